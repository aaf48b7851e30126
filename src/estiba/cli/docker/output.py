"""Pure formatting as the docker CLI's formatters print (its ``formatter`` package and
go-units): rows in, strings out. The clock is a parameter, so tests pin it."""

from __future__ import annotations

from estiba.units import human_duration, human_size

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import TypeVar

    T = TypeVar("T")


def ago(created: float, now: float) -> str:
    return human_duration(now - created) + " ago"


def truncate_id(id: str) -> str:
    """stringid.TruncateID: the hex of a digest, cut to 12."""
    return id.partition(":")[2][:12] if ":" in id else id[:12]


def ellipsis(text: str, width: int) -> str:
    """formatter.Ellipsis: cut to ``width`` with ``…`` as the last character."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    return text[:width - 1] + "…"


def go_quote(text: str) -> str:
    """strconv.Quote for the text a command line holds: printable characters as they
    are, the rest escaped as Go escapes them."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x80 else f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def created_at(epoch: float) -> str:
    """time.Unix(epoch, 0).String() in UTC: ``2026-12-04 21:34:53 +0000 UTC``."""
    s = int(epoch)
    days, rem = divmod(s, 86400)
    # civil date from days (Howard Hinnant's algorithm)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    return (f"{year:04d}-{month:02d}-{day:02d} {rem // 3600:02d}:{rem % 3600 // 60:02d}:"
            f"{rem % 60:02d} +0000 UTC")


def go_path_error(op: str, path: str, err: OSError) -> str:
    """An OSError as Go's ``*PathError`` prints it: ``open /x: no such file or
    directory`` (Go's errno texts are lower case, Python's capitalised)."""
    reason = err.strerror.lower() if err.strerror else str(err)
    return f"{op} {path}: {reason}"


def join_host_port(host: str, port: str) -> str:
    """net.JoinHostPort: an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def natural_key(text: str) -> list[tuple]:
    """sortorder.NaturalLess as a key, docker's order for names and ports: runs of
    ASCII digits compared as numbers (equal numbers: fewer leading zeros first) and
    placed before any other character; the rest compared byte by byte (code points
    order as UTF-8's bytes do); a string that is a prefix of another first."""
    key: list[tuple] = []
    i = 0
    while i < len(text):
        j = i
        digits = "0" <= text[i] <= "9"
        while j < len(text) and ("0" <= text[j] <= "9") == digits:
            j += 1
        chunk = text[i:j]
        if digits:
            number = chunk.lstrip("0")
            key.append((0, len(number), number, len(chunk) - len(number)))
        else:
            key.append((1, chunk))
        i = j
    return key


def natural_sorted(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """``items`` in docker's natural order of ``key(item)``."""
    return sorted(items, key=lambda item: natural_key(key(item)))


def _group(key: str, first: int, last: int) -> str:
    ip, _, kind = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{join_host_port(ip, group)}->{group}"
    return f"{group}/{kind}"


def ports(items: list[Mapping[str, object]] | None) -> str:
    """formatter.DisplayablePorts: ``0.0.0.0:8080->80/tcp, 443/tcp``. Runs of ports
    published at the same number are grouped (``8000-8002/tcp``); ports published at
    another number are listed after the groups."""
    def key(p: Mapping[str, object]) -> tuple:
        return (p.get("PrivatePort") or 0, p.get("IP") or "", p.get("PublicPort") or 0,
                p.get("Type") or "")

    groups: dict[str, list[int]] = {}  # key -> [first, last], in order of creation
    result: list[str] = []
    mappings: list[str] = []
    for p in sorted(items or (), key=key):
        current = int(p.get("PrivatePort") or 0)  # type: ignore[call-overload]
        kind = str(p.get("Type") or "")
        ip = str(p.get("IP") or "")
        public = int(p.get("PublicPort") or 0)  # type: ignore[call-overload]
        port_key = kind
        if ip:
            if public != current:
                mappings.append(f"{join_host_port(ip, str(public))}->{current}/{kind}")
                continue
            port_key = f"{ip}/{kind}"
        group = groups.get(port_key)
        if group is None:
            groups[port_key] = [current, current]
            continue
        if current == group[1] + 1:
            group[1] = current
            continue
        result.append(_group(port_key, group[0], group[1]))
        # Go replaces the map's entry; the key keeps its first place in the order
        groups[port_key] = [current, current]
    result.extend(_group(k, g[0], g[1]) for k, g in groups.items())
    result.extend(mappings)
    return ", ".join(result)


def familiar_image(image: str) -> str:
    """A reference as docker shows it: ``docker.io/library/`` dropped, a digest dropped
    when a tag remains."""
    for prefix in ("docker.io/library/", "docker.io/"):
        if image.startswith(prefix):
            image = image[len(prefix):]
            break
    name, at, _ = image.partition("@")
    if at and ":" in name.rpartition("/")[2]:
        return name
    return image


class ContainerRow:
    """One line of ``ps``: the fields docker's ContainerContext offers a template, in
    the order its ``json`` prints them."""

    __fields__ = ("Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes",
                  "Mounts", "Names", "Networks", "Platform", "Ports", "RunningFor",
                  "Size", "State", "Status")

    def __init__(self, c: Mapping[str, object], now: float, trunc: bool = True) -> None:
        cid = str(c.get("Id") or "")
        self.ID = truncate_id(cid) if trunc else cid
        names = [str(n).lstrip("/") for n in c.get("Names") or ()]  # type: ignore[union-attr]
        if trunc:
            plain = [n for n in names if "/" not in n]
            names = plain[:1] if plain else names
        self.Names = ",".join(names)
        image = str(c.get("Image") or "")
        if not image:
            self.Image = "<no image>"
        elif not trunc:
            self.Image = image
        elif truncate_id(str(c.get("ImageID") or "")) == truncate_id(image):
            self.Image = truncate_id(image)
        else:
            self.Image = familiar_image(image)
        command = str(c.get("Command") or "")
        self.Command = go_quote(ellipsis(command, 20) if trunc else command)
        created = float(c.get("Created") or 0)  # type: ignore[arg-type]
        self.CreatedAt = created_at(created)
        self.RunningFor = ago(created, now)
        self.Ports = ports(c.get("Ports"))  # type: ignore[arg-type]
        self.State = str(c.get("State") or "")
        self.Status = str(c.get("Status") or "")
        srw = human_size(float(c.get("SizeRw") or 0), 3)  # type: ignore[arg-type]
        root = float(c.get("SizeRootFs") or 0)  # type: ignore[arg-type]
        self.Size = f"{srw} (virtual {human_size(root, 3)})" if root > 0 else srw
        self._labels: Mapping[str, str] = c.get("Labels") or {}  # type: ignore[assignment]
        self.Labels = ",".join(sorted(f"{k}={v}" for k, v in self._labels.items()))
        mounts = c.get("Mounts") or ()
        self.Mounts = ",".join(
            ellipsis(m.get("Name") or m.get("Source") or "", 15) if trunc  # type: ignore[union-attr]
            else (m.get("Name") or m.get("Source") or "") for m in mounts)  # type: ignore[union-attr]
        self.LocalVolumes = str(sum(1 for m in mounts if m.get("Driver") == "local"))  # type: ignore[union-attr]
        settings = c.get("NetworkSettings") or {}
        self.Networks = ",".join(settings.get("Networks") or {})  # type: ignore[union-attr]
        self.Platform = None

    def Label(self, name: str) -> str:  # noqa: N802 - the name templates call
        return self._labels.get(name, "")


CONTAINER_HEADERS = {
    "ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
    "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
    "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS",
    "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
    "Platform": "PLATFORM",
}


class ImageRow:
    """One line of ``images``: an image under one repository and tag."""

    __fields__ = ("Containers", "CreatedAt", "CreatedSince", "Digest", "ID",
                  "Repository", "SharedSize", "Size", "Tag", "UniqueSize", "VirtualSize")

    def __init__(self, i: Mapping[str, object], repo: str, tag: str, digest: str,
                 now: float, trunc: bool = True) -> None:
        iid = str(i.get("Id") or "")
        self.ID = truncate_id(iid) if trunc else iid
        self.Repository = repo
        self.Tag = tag
        self.Digest = digest
        created = float(i.get("Created") or 0)  # type: ignore[arg-type]
        self.CreatedAt = created_at(created)
        self.CreatedSince = ago(created, now)
        size = int(i.get("Size") or 0)  # type: ignore[call-overload]
        shared = int(i.get("SharedSize", -1) if i.get("SharedSize") is not None else -1)  # type: ignore[call-overload]
        containers = int(i.get("Containers", -1) if i.get("Containers") is not None else -1)  # type: ignore[call-overload]
        self.Size = human_size(size, 3)
        self.VirtualSize = human_size(size, 4)
        self.SharedSize = "N/A" if shared == -1 else human_size(shared, 4)
        self.UniqueSize = "N/A" if shared == -1 else human_size(size - shared, 4)
        self.Containers = "N/A" if containers == -1 else str(containers)


IMAGE_HEADERS = {
    "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
    "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
    "Containers": "CONTAINERS", "VirtualSize": "SIZE", "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
}


def _split_ref(ref: str) -> tuple[str, str]:
    # (familiar name, tag or "@digest") of "name:tag" / "name@digest"
    name, at, digest = ref.partition("@")
    if at:
        return familiar_image(name), digest
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return familiar_image(name[:colon]), name[colon + 1:]
    return familiar_image(name), ""


def image_rows(images: list[Mapping[str, object]], now: float, *, trunc: bool = True,
               digests: bool = False) -> list[ImageRow]:
    """formatter.imageFormat: a row per repository and tag (per digest as well with
    ``digests``), ``<none>`` for a dangling image. Docker walks a map, in no fixed
    order; repositories are sorted here."""
    rows: list[ImageRow] = []
    for img in images:
        tags = [t for t in img.get("RepoTags") or () if t != "<none>:<none>"]  # type: ignore[union-attr]
        dgs = [d for d in img.get("RepoDigests") or () if d != "<none>@<none>"]  # type: ignore[union-attr]
        if not tags and not dgs:
            rows.append(ImageRow(img, "<none>", "<none>", "<none>", now, trunc))
            continue
        repo_tags: dict[str, list[str]] = {}
        for ref in tags:
            repo, tag = _split_ref(ref)
            if tag:
                repo_tags.setdefault(repo, []).append(tag)
        repo_digests: dict[str, list[str]] = {}
        for ref in dgs:
            repo, digest = _split_ref(ref)
            if ":" in digest:
                repo_digests.setdefault(repo, []).append(digest)
        for repo in sorted(repo_tags):
            ds = repo_digests.pop(repo, []) if digests else []
            repo_digests.pop(repo, None)
            for tag in repo_tags[repo]:
                for d in ds or ["<none>"]:
                    rows.append(ImageRow(img, repo, tag, d, now, trunc))
        for repo in sorted(repo_digests):
            for d in repo_digests[repo] if digests else [""]:
                rows.append(ImageRow(img, repo, "<none>", d, now, trunc))
    return rows


# the types docker's template errors name (``can't evaluate field X in type T``)
ContainerRow.__name__ = "*formatter.ContainerContext"
ImageRow.__name__ = "*formatter.imageContext"
