"""Docker's images on the core's image service, in the engine's namespace.

Docker's model over the core's: an image is its config digest (the Id); the core's
records (name → manifest) are its references. A record whose name has a tag is a tag
(``RepoTags``); a record named by digest only (``dangling@sha256:<manifest>``, or the
``import-<date>@sha256:...`` a load gives an unnamed image) keeps an image that has lost
or never had a tag: a dangling image, ``<none>:<none>``. Docker keeps such images (a tag
moved to another image, ``docker import`` without a name, ``rmi -f`` of an image a
running container uses) until ``docker rmi <id>`` or ``docker image prune``; without a
record the core's collector would take them.

Verbs: list (with Docker's filters), inspect, history, tag, delete, import, save, load,
prune, and a pull that only knows the built-in busybox (no registry client yet). The
plans (filters, history rows, what a delete drops and refuses) are pure functions here;
the ``Images`` methods read the core, call them, apply the result.

Which containers use an image: a container's snapshot is prepared on the image's top
layer, so a container uses every image whose top chain id is its snapshot's parent
(two images with the very same layers are both "in use": a refusal on the safe side).
"""

from __future__ import annotations

import re
import time

from estiba import errors
from estiba.core.images import normalise
from estiba.images import naming
from estiba.oci import reference
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from typing import Any, BinaryIO

DANGLING_REPO = "dangling"  # records dangling@<manifest digest> keep an untagged image
NONE_TAG = "<none>:<none>"
NONE_DIGEST = "<none>@<none>"
MISSING = "<missing>"
LIST_FILTERS = ("dangling", "label", "before", "since", "reference", "until")
PRUNE_FILTERS = ("dangling", "label", "until")
_HEX = re.compile(r"(sha256:)?([0-9a-f]{1,64})")


class Entry(Record):
    """One image as Docker sees it."""

    id: str  # sha256:<config digest>
    names: tuple[str, ...]  # the normalised names of the records pointing at it
    manifests: tuple[str, ...]  # their target digests, in the same order
    created: int  # seconds since the epoch, from the config
    size: int  # the layers' bytes
    labels: dict | None = None  # the config's Config.Labels
    chain: str = ""  # the top layer's chain id: a container's snapshot parent

    @property
    def tags(self) -> list[str]:
        """The familiar tags (``busybox:latest``), sorted."""
        return sorted(familiar(n) for n in self.names if is_tag(n))

    @property
    def dangling(self) -> bool:
        return not any(is_tag(n) for n in self.names)


class User(Record):
    """A container and whether it runs (Docker refuses some deletes only then)."""

    id: str
    running: bool
    parent: str  # its snapshot's parent: the top chain id of its image


class Removal(Record):
    """What a delete does: drop the records ``untag`` (tags, shown as Untagged), then,
    with ``delete``, every record left (the image goes); with ``keep``, the image stays,
    untagged, kept by a dangling record."""

    untag: tuple[str, ...] = ()
    delete: bool = False
    keep: bool = False


# --- pure ---------------------------------------------------------------------------


def familiar(name: str) -> str:
    """``docker.io/library/busybox:latest`` as ``busybox:latest``."""
    try:
        return reference.parse(name).familiar()
    except errors.InvalidArgument:
        return name


def familiar_repo(name: str) -> str:
    try:
        return reference.parse(name).familiar_name()
    except errors.InvalidArgument:
        return name


def is_tag(name: str) -> bool:
    """Whether the record ``name`` is a tag (not a digest-only keeper)."""
    try:
        return bool(reference.parse(name, default_tag="").tag)
    except errors.InvalidArgument:
        return False


def dangling_name(manifest_digest: str) -> str:
    return normalise(f"{DANGLING_REPO}@{manifest_digest}")


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def shown_name(name: str) -> str:
    """A name as Docker's errors show it: an id as given, a reference normalised
    (``busybox`` is ``busybox:latest``)."""
    if _HEX.fullmatch(name):
        return name
    return familiar(name)


def find(entries: Sequence[Entry], name: str) -> tuple[Entry, str | None]:
    """The image ``name`` (a reference, an id or an id prefix) is, and the record name
    when it was found by reference (None when by id). NotFound says "No such image";
    InvalidArgument for a prefix that fits several images."""
    try:
        full = normalise(name)
    except errors.InvalidArgument:
        full = ""
    if full:
        for entry in entries:
            if full in entry.names:
                return entry, full
    found = _HEX.fullmatch(name)
    if found:
        prefix = "sha256:" + found.group(2)
        if found.group(1) or len(found.group(2)) == 64:
            hits = [e for e in entries if e.id == prefix]
        else:
            hits = [e for e in entries if e.id.startswith(prefix)]
        if len(hits) > 1:
            raise errors.InvalidArgument(
                f"{name}: image id prefix is ambiguous: it fits {len(hits)} images")
        if hits:
            return hits[0], None
    raise errors.NotFound(f"No such image: {shown_name(name)}")


def matches_reference(pattern: str, name: str) -> bool:
    """Docker's ``reference=`` filter: ``pattern`` (``*``, ``?``, ``[...]``; a ``*``
    stops at ``/``) against the familiar ``name`` (``busybox:latest``) or its
    repository (``busybox``)."""
    shown = familiar(name)
    repo = familiar_repo(name)
    rule = re.compile(_glob(pattern))
    return bool(rule.fullmatch(shown) or rule.fullmatch(repo))


def _glob(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise errors.InvalidArgument(f"invalid reference filter {pattern!r}: "
                                             "unterminated [")
            body = pattern[i + 1:end]
            out.append("[" + ("^" + body[1:] if body.startswith("^") else body) + "]")
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def select(entries: Sequence[Entry], filters: dict[str, list[str]],
           find_one: Callable[[str], Entry], now: float) -> list[dict]:
    """``GET /images/json``: the summaries of the images ``filters`` keep, newest
    first. ``find_one`` resolves ``before=``/``since=``."""
    from estiba.engine import filters as docker_filters

    dangling = docker_filters.boolean(filters, "dangling")
    before = [find_one(v).created for v in filters.get("before", [])]
    since = [find_one(v).created for v in filters.get("since", [])]
    until = [docker_filters.parse_until(v, now) for v in filters.get("until", [])]
    patterns = filters.get("reference", [])
    out = []
    for entry in sorted(entries, key=lambda e: (-e.created, e.id)):
        if dangling is not None and entry.dangling != dangling:
            continue
        if "label" in filters and not docker_filters.labels_match(
                entry.labels or {}, filters["label"]):
            continue
        if any(entry.created >= b for b in before) or any(entry.created <= s for s in since):
            continue
        if any(entry.created >= u for u in until):
            continue
        tags = entry.tags
        if patterns:
            tags = [t for t in tags if any(matches_reference(p, t) for p in patterns)]
            if not tags:
                continue
        out.append(summary(entry, tags))
    return out


def summary(entry: Entry, tags: list[str]) -> dict:
    """One item of ``GET /images/json``; a dangling image is ``<none>:<none>``."""
    none = entry.dangling
    return {
        "Id": entry.id, "ParentId": "",
        "RepoTags": [NONE_TAG] if none else tags,
        "RepoDigests": [NONE_DIGEST] if none else [],
        "Created": entry.created, "Size": entry.size, "SharedSize": -1,
        "Labels": entry.labels or {}, "Containers": -1,
    }


def history(config: dict, layer_sizes: Sequence[int], image_id: str,
            tags: list[str]) -> list[dict]:
    """``GET /images/{name}/history``: the config's history, newest first; an entry
    that made a layer has that layer's size, an empty one 0. Only the top has an Id
    (the image's) and tags: the steps below have no image of their own here."""
    from estiba.engine.inspect import parse_time

    steps = config.get("history") or []
    created = config.get("created") or ""
    if not steps:  # a config without history: one step per layer
        steps = [{"created": created} for _ in layer_sizes] or [{"created": created}]
    rows = []
    layers = iter(layer_sizes)
    for step in steps:
        size = 0 if step.get("empty_layer") else next(layers, 0)
        try:
            when = int(parse_time(step.get("created") or ""))
        except ValueError:
            when = 0
        rows.append({"Id": MISSING, "Created": when,
                     "CreatedBy": step.get("created_by") or "", "Tags": None,
                     "Size": size, "Comment": step.get("comment") or ""})
    rows.reverse()
    rows[0]["Id"] = image_id
    rows[0]["Tags"] = tags or None
    return rows


def plan_delete(entry: Entry, name: str | None, users: Sequence[User],
                force: bool) -> Removal:
    """What ``DELETE /images/{name}`` does to ``entry``, asked by the tag ``name``
    (normalised) or by id (None); Conflict with Docker's message when refused."""
    image = short_id(entry.id)
    using = [u for u in users if u.parent and u.parent == entry.chain]
    running = [u for u in using if u.running]
    tags = [n for n in entry.names if is_tag(n)]
    if name is not None and is_tag(name):
        if len(tags) > 1:
            return Removal(untag=(name,))
        if using and not force:
            raise errors.Conflict(
                f"conflict: unable to remove repository reference \"{familiar(name)}\" "
                f"(must force) - container {using[0].id[:12]} is using its referenced "
                f"image {image}")
        if running:
            return Removal(untag=(name,), keep=True)
        return Removal(untag=(name,), delete=True)
    if running:
        raise errors.Conflict(
            f"conflict: unable to delete {image} (cannot be forced) - image is being "
            f"used by running container {running[0].id[:12]}")
    if not force and len({familiar_repo(t) for t in tags}) > 1:
        raise errors.Conflict(f"conflict: unable to delete {image} (must be forced) - "
                              "image is referenced in multiple repositories")
    if using and not force:
        raise errors.Conflict(
            f"conflict: unable to delete {image} (must be forced) - image is being used "
            f"by stopped container {using[0].id[:12]}")
    return Removal(untag=tuple(tags), delete=True)


def prunable(entries: Sequence[Entry], filters: dict[str, list[str]],
             users: Sequence[User], now: float) -> list[Entry]:
    """``POST /images/prune``: the images no container uses that the filters keep
    (dangling ones only, unless ``dangling=false``)."""
    from estiba.engine import filters as docker_filters

    only_dangling = docker_filters.boolean(filters, "dangling")
    only_dangling = True if only_dangling is None else only_dangling
    until = [docker_filters.parse_until(v, now) for v in filters.get("until", [])]
    parents = {u.parent for u in users}
    out = []
    for entry in entries:
        if only_dangling and not entry.dangling:
            continue
        if entry.chain and entry.chain in parents:
            continue
        if "label" in filters and not docker_filters.labels_match(
                entry.labels or {}, filters["label"]):
            continue
        if any(entry.created >= u for u in until):
            continue
        out.append(entry)
    return out


def removal_report(entry: Entry, untagged: Iterable[str], deleted: bool) -> list[dict]:
    """Docker's ``[{"Untagged": ...}, {"Deleted": ...}]``."""
    out: list[dict] = [{"Untagged": familiar(n)} for n in untagged]
    if deleted:
        out.append({"Deleted": entry.id})
    return out


def target_name(repo: str, tag: str) -> str:
    """The reference ``POST /images/{name}/tag`` and an import name (normalised)."""
    if not repo:
        raise errors.InvalidArgument("repository name must have at least one component")
    ref = reference.parse(repo, default_tag="")
    if ref.digest is not None:
        raise errors.InvalidArgument(f"refusing to create a tag with a digest reference: "
                                     f"{repo}")
    if tag and ref.tag:
        raise errors.InvalidArgument(f"invalid reference format: {repo}:{tag}")
    return normalise(f"{repo}:{tag}" if tag else repo)


def error_line(message: str) -> dict:
    """An error inside a progress stream, as the docker CLI reads it."""
    return {"errorDetail": {"message": message}, "error": message}


# --- the engine's images -------------------------------------------------------------


class Images:
    def __init__(self, core: Any, namespace: str) -> None:
        self.core = core
        self.namespace = namespace
        self.emit: Callable[..., None] = lambda *args, **kw: None  # Events.emit

    # --- reading ---------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """Every image of the namespace, its records grouped by config digest (a record
        whose blobs are not all there is left out)."""
        from estiba.oci.digest import chain_ids
        from estiba.oci.digest import parse as parse_digest

        grouped: dict[str, dict] = {}
        for record in self.core.images.list(self.namespace):
            try:
                manifest, _ = self.core.images.manifest(self.namespace, record.name)
                image_id = str(manifest.config.digest)
                item = grouped.get(image_id)
                if item is None:
                    config = self.core.images.config(self.namespace, record.name)
                    diff_ids = [parse_digest(d) for d in
                                (config.get("rootfs") or {}).get("diff_ids") or []]
                    chains = chain_ids(diff_ids)
                    grouped[image_id] = item = {
                        "id": image_id, "names": [], "manifests": [],
                        "created": _created(config),
                        "size": sum(layer.size for layer in manifest.layers),
                        "labels": (config.get("config") or {}).get("Labels") or None,
                        "chain": str(chains[-1]) if chains else ""}
            except (errors.NotFound, errors.InvalidArgument):
                continue
            item["names"].append(record.name)
            item["manifests"].append(record.target_digest)
        return [Entry(**{**v, "names": tuple(v["names"]), "manifests": tuple(v["manifests"])})
                for v in grouped.values()]

    def _find(self, name: str) -> tuple[Entry, str | None]:
        """``find`` over the namespace's images, busybox provided when asked for."""
        try:
            return find(self.entries(), name)
        except errors.NotFound:
            if _normalised(name) != naming.BUSYBOX:
                raise
        self.core.images.provide_busybox(self.namespace)
        return find(self.entries(), name)

    def resolve(self, name: str) -> Any:
        """The image record ``name`` (a reference, an id or an id prefix) refers to
        (busybox provided if missing): NotFound says ``No such image`` as Docker does."""
        try:
            return self.core.images.resolve(self.namespace, name)
        except (errors.NotFound, errors.InvalidArgument) as err:
            try:
                entry, _ = find(self.entries(), name)
            except errors.NotFound:
                raise errors.NotFound(f"No such image: {shown_name(name)}") from err
            return self.core.images.get(self.namespace, _preferred(entry))

    def image_id(self, name: str) -> str:
        manifest, _ = self.core.images.manifest(self.namespace, name)
        return str(manifest.config.digest)

    def users(self) -> list[User]:
        """The namespace's containers, whether they run, and their images' top layers."""
        tasks = {}
        if self.core.tasks is not None:
            tasks = {t.id: t for t in self.core.tasks.list(self.namespace)}
        out = []
        for container in self.core.containers.list(self.namespace):
            parent = ""
            if container.snapshot_key:
                try:
                    parent = self.core.snapshots.info(self.namespace,
                                                      container.snapshot_key).parent
                except errors.NotFound:
                    pass
            task = tasks.get(container.id)
            running = task is not None and task.exit_status is None \
                and task.status != "created"
            out.append(User(id=container.id, running=running, parent=parent))
        return out

    def list(self, all: bool = False, filters: dict[str, list[str]] | None = None) -> list[dict]:
        """``GET /images/json`` (``all`` changes nothing: no image here is an
        intermediate one of another's build)."""
        entries = self.entries()

        def find_one(name: str) -> Entry:
            return find(entries, name)[0]

        return select(entries, filters or {}, find_one, time.time())

    def inspect(self, name: str) -> dict:
        """``GET /images/{name}/json`` (a built-in image is provided when asked for)."""
        entry, _ = self._find(name)
        record = self.core.images.get(self.namespace, _preferred(entry))
        config = self.core.images.config(self.namespace, record.name)
        return {
            "Id": entry.id, "RepoTags": entry.tags, "RepoDigests": [],
            "Parent": "", "Comment": config.get("comment") or "",
            "Created": config.get("created") or "",
            "DockerVersion": "", "Author": config.get("author") or "",
            "Config": config.get("config") or {},
            "Architecture": config.get("architecture") or "",
            "Os": config.get("os") or "linux", "Size": entry.size,
            "GraphDriver": {"Name": "overlayfs", "Data": None},
            "RootFS": {"Type": "layers",  # Docker's names for the config's rootfs
                       "Layers": list((config.get("rootfs") or {}).get("diff_ids") or [])},
            "Metadata": {"LastTagTime": record.updated_at or record.created_at},
        }

    def history(self, name: str) -> list[dict]:
        """``GET /images/{name}/history``."""
        entry, _ = self._find(name)
        record = _preferred(entry)
        manifest, _ = self.core.images.manifest(self.namespace, record)
        config = self.core.images.config(self.namespace, record)
        return history(config, [layer.size for layer in manifest.layers], entry.id,
                       entry.tags)

    # --- naming ----------------------------------------------------------------------

    def _drop_dangling(self, entry: Entry) -> None:
        """Now that ``entry`` has a tag, its dangling records are not needed."""
        for record_name in entry.names:
            if not is_tag(record_name):
                self._delete_record(record_name)

    def _delete_record(self, name: str) -> None:
        try:
            self.core.images.delete(self.namespace, name)
        except errors.NotFound:
            pass

    def tag(self, name: str, repo: str, tag: str) -> None:
        """``POST /images/{name}/tag?repo=&tag=``."""
        target = target_name(repo, tag)
        entry, found = self._find(name)
        source = found or _preferred(entry)
        self._rename(target, self.core.images.get(self.namespace, source).target_digest)
        self.emit("image", "tag", entry.id, {"name": familiar(target)})

    def _rename(self, target: str, manifest_digest: str) -> None:
        """Name ``target`` the image at ``manifest_digest``, keeping what it named
        before as dangling, dropping the image's own dangling keepers."""
        entries = self.entries()
        try:
            before, _ = find(entries, target)
        except (errors.NotFound, errors.InvalidArgument):
            before = None
        naming.name_image(self.core.images.store, self.core.images.db, self.namespace,
                          target, manifest_digest)
        after = self.entries()
        if before is not None and not any(e.id == before.id for e in after):
            naming.name_image(self.core.images.store, self.core.images.db,
                              self.namespace, dangling_name(before.manifests[0]),
                              before.manifests[0])
        for entry in after:
            if target in entry.names:
                self._drop_dangling(entry)

    # --- removing --------------------------------------------------------------------

    def delete(self, name: str, force: bool = False, noprune: bool = False) -> list[dict]:
        """``DELETE /images/{name}``: untag, or delete the image when its last tag goes
        or it is named by id; Conflict while containers use it (see ``plan_delete``).
        The collector then frees the blobs nothing else holds."""
        del noprune  # no parent images here: nothing else to prune
        entry, found = find(self.entries(), name)
        plan = plan_delete(entry, found, self.users(), force)
        for record_name in plan.untag:
            self._delete_record(record_name)
        if plan.delete:
            for record_name in entry.names:
                if record_name not in plan.untag:
                    self._delete_record(record_name)
            self.core.collect_garbage()
        elif plan.keep:
            self._keep(entry)
        return removal_report(entry, plan.untag, plan.delete)

    def _keep(self, entry: Entry) -> None:
        target = entry.manifests[0]
        naming.name_image(self.core.images.store, self.core.images.db, self.namespace,
                          dangling_name(target), target)

    def prune(self, filters: dict[str, list[str]]) -> dict:
        """``POST /images/prune``: delete the unused images the filters keep (dangling
        only by default), then collect what they held."""
        entries = prunable(self.entries(), filters, self.users(), time.time())
        deleted: list[dict] = []
        for entry in entries:
            for record_name in entry.names:
                self._delete_record(record_name)
            deleted.extend(removal_report(entry, [n for n in entry.names if is_tag(n)],
                                          True))
        result = self.core.collect_garbage()
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": result.bytes_freed}

    # --- import, save, load, pull -----------------------------------------------------

    def import_rootfs(self, stream: BinaryIO, repo: str = "", tag: str = "",
                      changes: Sequence[str] = (), message: str = "") -> str:
        """``POST /images/create?fromSrc=-``: the rootfs tarball ``stream`` as a
        one-layer image named ``repo:tag`` (dangling without ``repo``); return its Id.
        A bad change fails before the body is read."""
        from estiba.images.importer import import_rootfs
        from estiba.images.instructions import apply_changes

        target = target_name(repo, tag) if repo else ""
        apply_changes({}, changes)
        os_name, architecture, _ = self.core.images.platform
        # the collector waits until the blobs are named
        with self.core.images.collector.shared():
            made = import_rootfs(self.core.images.store, stream, changes=changes,
                                 message=message, platform=(os_name, architecture))
            if not target:
                naming.name_image(self.core.images.store, self.core.images.db,
                                  self.namespace, dangling_name(made.manifest_digest),
                                  made.manifest_digest)
        if target:
            self._rename(target, made.manifest_digest)
        self.emit("image", "import", made.config_digest, {"name": made.config_digest})
        return made.config_digest

    def save(self, names: Sequence[str]) -> Callable[[BinaryIO], None]:
        """``GET /images/get``: check every name now (NotFound before any byte goes
        out), return the writer of the ``docker save`` archive. A name given by
        reference is written in the archive; an id saves the image unnamed."""
        from estiba.images.archive import save_archive

        if not names:
            raise errors.InvalidArgument("no image names given")
        by_manifest: dict[str, list[str]] = {}
        for name in names:
            entry, found = self._find(name)
            record = found or _preferred(entry)
            _, manifest_digest = self.core.images.manifest(self.namespace, record)
            listed = by_manifest.setdefault(manifest_digest, [])
            if found is not None and is_tag(found) and found not in listed:
                listed.append(found)
        images = [(found, digest) for digest, found in by_manifest.items()]
        store, tmp_dir = self.core.images.store, self.core.images.tmp_dir

        def write(out: BinaryIO) -> None:
            save_archive(store, images, out, tmp_dir)

        return write

    def load(self, stream: BinaryIO) -> list[dict]:
        """``POST /images/load``: Docker's progress objects, ``Loaded image: x`` per
        name, ``Loaded image ID: sha256:...`` for an image the archive leaves unnamed;
        an archive that cannot be read is one error object, and nothing is named."""
        before = {e.id: e for e in self.entries()}
        try:
            loaded = self.core.images.import_archive(self.namespace, stream)
        except errors.EstibaError as err:
            return [error_line(str(err))]
        after = self.entries()
        left = {e.id for e in after}
        for image_id, entry in before.items():
            if image_id not in left:  # its tags went to loaded images
                self._keep(entry)
        out = []
        by_name = {n: e for e in after for n in e.names}
        for record in loaded:
            entry = by_name.get(record.name)
            if entry is not None:
                self.emit("image", "load", entry.id, {"name": familiar(record.name)
                                                      if is_tag(record.name) else entry.id})
            if is_tag(record.name):
                out.append({"stream": f"Loaded image: {familiar(record.name)}\n"})
                if entry is not None:
                    self._drop_dangling(entry)
            elif entry is not None:
                out.append({"stream": f"Loaded image ID: {entry.id}\n"})
        return out

    def pull(self, from_image: str, tag: str) -> Iterator[dict]:
        """``POST /images/create?fromImage=``: the progress objects of a pull. Only the
        built-in busybox can be had: Unimplemented for anything else."""
        name = f"{from_image}:{tag}" if tag and ":" not in from_image.rpartition("/")[2] \
            and "@" not in from_image else from_image
        if normalise(name) != naming.BUSYBOX:
            raise errors.Unimplemented(
                f"pull {familiar(name)}: pull is not supported yet: there is no registry "
                "client (busybox:latest is built in; docker load and docker import work)")
        image = self.core.images.resolve(self.namespace, name)
        yield {"status": f"Pulling from {familiar_repo(image.name)}", "id": "latest"}
        yield {"status": f"Digest: {image.target_digest}"}
        yield {"status": f"Status: Image is up to date for {familiar(image.name)}"}


def _preferred(entry: Entry) -> str:
    """The record to read an image through: its first tag, else any of its names."""
    tags = sorted(n for n in entry.names if is_tag(n))
    return tags[0] if tags else entry.names[0]


def _normalised(name: str) -> str:
    try:
        return normalise(name)
    except errors.InvalidArgument:
        return ""


def _created(config: dict) -> int:
    from estiba.engine.inspect import parse_time

    try:
        return int(parse_time(config.get("created") or ""))
    except ValueError:
        return 0
