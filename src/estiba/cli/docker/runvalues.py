"""The value grammars of ``run``/``create``'s flags, each converted to what docker's
CLI sends: sizes, CPUs, addresses, ``-v`` specs (compose's volume
parser), ``--mount``'s CSV, devices, ulimits (go-units), the option files (ports and
networks are in ``runnetwork``). A flag's own check raises ValueError with docker's
words (the caller makes pflag's error of it); a check docker makes once the flags are
in raises ``ConfigError``. Pure but for ``read_env_files``, ``read_label_files`` and
a seccomp profile's file."""

from __future__ import annotations

from estiba.cli.docker.gonumbers import decimal_int, decimal_uint
from estiba.cli.docker.output import go_path_error
from estiba.cli.docker.runopts import ConfigError
from estiba.units import ram_in_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_SPACES = " \t\n\v\f\r"


# --- CPUs ------------------------------------------------------------------------------


def nano_cpus(text: str) -> int:
    """``--cpus 1.5`` as NanoCpus (a rational number times 1e9, which must be whole)."""
    from fractions import Fraction

    try:
        cpus = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {text} as a rational number") from None
    nano = cpus * 1_000_000_000
    if nano.denominator != 1:
        raise ValueError("value is too precise")
    return int(nano)


# --- addresses and names ----------------------------------------------------------------


def _ip(text: str) -> str | None:
    """Go's net.ParseIP(text).String(), or None."""
    import ipaddress

    if "%" in text:
        return None
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def ip_address(text: str) -> str:
    """``--dns``: an address, in its canonical form."""
    ip = _ip(text.strip())
    if ip is None:
        raise ValueError(f"IP address is not correctly formatted: {text}")
    return ip


def extra_host(text: str) -> str:
    """``--add-host NAME:IP`` or ``NAME=IP`` (IPv6 maybe in brackets) as the daemon
    reads it, ``NAME:IP``."""
    name, sep, ip = text.partition("=")
    if not sep:
        name, sep, ip = text.partition(":")
    if not sep or not name or ":" in name:
        raise ValueError(f'bad format for add-host: "{text}"')
    if ip != "host-gateway":
        if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]":
            ip = ip[1:-1]
        if _ip(ip.strip()) is None:
            raise ValueError(f'invalid IP address in add-host: "{ip}"')
    return f"{name}:{ip}"


def dns_search(text: str) -> str:
    """``--dns-search``: a domain (its trailing dot dropped) or ``.``."""
    value = text.strip(" ")
    if value == ".":
        return value
    domain = value.rstrip(_SPACES)
    domain = domain[:-1] if domain.endswith(".") else domain
    labels = domain.split(".")
    ok = (any(c.isascii() and c.isalpha() for c in value) and len(domain) < 255
          and all(label and label.isascii() and label.replace("-", "").isalnum()
                  and label[0] != "-" and label[-1] != "-" for label in labels))
    if not ok:
        raise ValueError(f"{value} is not a valid domain")
    return domain


def link(text: str) -> str:
    """``--link NAME[:ALIAS]``, passed as given."""
    if not text:
        raise ValueError("empty string specified for links")
    if text.count(":") > 1:
        raise ValueError(f"bad format for links: {text}")
    return text


def is_mac(text: str) -> bool:
    """Go's net.ParseMAC: 6, 8 or 20 bytes, as ``:``/``-`` separated pairs or ``.``
    separated groups of four."""
    for sep, width in ((":", 2), ("-", 2), (".", 4)):
        parts = text.split(sep)
        if len(parts) < 2:
            continue
        size = len(parts) * width // 2
        return (size in (6, 8, 20) and all(len(p) == width for p in parts)
                and all(c in "0123456789abcdefABCDEF" for p in parts for c in p))
    return False


def is_container_ref(mode: str) -> bool:
    kind, sep, ref = mode.partition(":")
    return bool(sep) and kind == "container" and bool(ref)


# --- kernel settings ----------------------------------------------------------------------

_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
            "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")


def sysctl(text: str) -> str:
    """``--sysctl K=V`` for the namespaced sysctls only (docker refuses the others
    client-side)."""
    key, sep, _ = text.partition("=")
    if sep and key and (key in _SYSCTLS or key.startswith(("net.", "fs.mqueue."))):
        return text
    raise ValueError(f"sysctl '{text}' is not allowed")


_ULIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
            "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack")


def ulimit(text: str) -> dict:
    """``--ulimit NAME=SOFT[:HARD]`` (go-units' ParseUlimit)."""
    name, sep, limits = text.partition("=")
    if not sep:
        raise ValueError(f"invalid ulimit argument: {text}")
    if name not in _ULIMITS:
        raise ValueError(f"invalid ulimit type: {name}")
    values = limits.split(":")
    if len(values) > 2:
        raise ValueError(f"too many limit value arguments - {limits}, can only have up "
                         "to two, `soft[:hard]`")
    soft = decimal_int(values[0])
    hard = decimal_int(values[1]) if len(values) == 2 else soft
    if hard != -1 and soft > hard:
        raise ValueError("ulimit soft limit must be less than or equal to hard limit: "
                         f"{soft} > {hard}")
    return {"Name": name, "Hard": hard, "Soft": soft}


def sorted_ulimits(limits: list[dict]) -> list[dict]:
    """One per name, the last given winning, sorted by name as docker sends them."""
    by_name = {u["Name"]: u for u in limits}
    return [by_name[name] for name in sorted(by_name)]


def _capability(name: str) -> str:
    cap = name.upper()  # docker trims nothing: " kill" becomes "CAP_ KILL"
    return cap if cap == "ALL" or cap.startswith("CAP_") else "CAP_" + cap


def capabilities(add: list[str], drop: list[str]) -> tuple[list[str] | None,
                                                            list[str] | None]:
    """(CapAdd, CapDrop) as docker sends them: ``CAP_`` names, sorted, once each."""
    adding = sorted({_capability(c) for c in add})
    dropping = sorted({_capability(c) for c in drop})
    return adding or None, dropping or None


def restart_policy(text: str) -> dict:
    """``--restart NAME[:MAX-RETRIES]``."""
    if not text:
        return {"Name": "", "MaximumRetryCount": 0}
    name, sep, count = text.partition(":")
    if sep and not name:
        raise ConfigError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = decimal_int(count)
        except ValueError:
            raise ConfigError("invalid restart policy format: maximum retry count must be "
                              "an integer") from None
    return {"Name": name, "MaximumRetryCount": retries}


def storage_opts(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError("invalid storage option")
        out[key] = value
    return out


def security_opts(items: list[str]) -> tuple[list[str] | None, list[str] | None,
                                              list[str] | None]:
    """(SecurityOpt, MaskedPaths, ReadonlyPaths): a seccomp profile's file sent as its
    compacted JSON; ``systempaths=unconfined`` kept on the client, as empty masked
    and read-only path lists."""
    if not items:
        return None, None, None
    out: list[str] = []
    masked = readonly = None
    for opt in items:
        key, sep, value = opt.partition("=")
        if not sep and key != "no-new-privileges":
            key, sep, value = opt.partition(":")
        if (not sep or not value) and key != "no-new-privileges":
            raise ConfigError(f'Invalid --security-opt: "{opt}"')
        if key == "seccomp" and value not in ("builtin", "unconfined"):
            opt = "seccomp=" + _seccomp_profile(value)
        if opt == "systempaths=unconfined":
            masked, readonly = [], []
            continue
        out.append(opt)
    return out, masked, readonly


def _seccomp_profile(path: str) -> str:
    import json

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        failure = go_path_error("open", str(err.filename), err)
        raise ConfigError(f"opening seccomp profile ({path}) failed: {failure}") from None
    try:
        return json.dumps(json.loads(data), separators=(",", ":"), ensure_ascii=False)
    except ValueError as err:
        raise ConfigError(f"compacting json for seccomp profile ({path}) failed: {err}"
                          ) from None


# --- volumes, mounts, devices ---------------------------------------------------------------


def volume_bind(spec: str) -> str | None:
    """``-v``: the bind (``SRC:DST[:OPTS]``) it makes, or None for an anonymous volume
    (compose's ParseVolume: sections split at colons, but a lone letter and its colon
    are a Windows drive)."""
    import os

    if not spec:
        raise ConfigError("invalid empty volume spec")
    if len(spec) <= 2:
        return None
    source = target = ""
    buffer = ""
    end = "\0"
    for ch in spec + end:
        if ch == ":" and len(buffer) == 1 and buffer.isalpha():
            buffer += ch
        elif ch in (":", end):
            if not buffer:
                raise ConfigError(f"invalid spec: {spec}: empty section between colons")
            if not source and ch == end:
                target = buffer
            elif not source:
                source = buffer
            elif not target:
                target = buffer
            elif ch == ":":
                raise ConfigError(f"invalid spec: {spec}: too many colons")
            buffer = ""
        else:
            buffer += ch
    if not source:
        return None
    host, sep, rest = spec.partition(":")
    if sep and source[0] in "./~" and (host == "." or host.startswith("./")):
        # only these relative sources are made absolute; the daemon refuses the others
        return f"{os.path.abspath(host)}:{rest}"
    return spec


def _device_mode(mode: str) -> bool:
    return 0 < len(mode) <= 3 and all(c in "rwm" for c in mode) and \
        len(set(mode)) == len(mode)


def device(spec: str) -> dict:
    """``--device HOST[:CONTAINER][:PERMS]`` as a DeviceMapping."""
    import posixpath

    if spec.count(":") > 2 or not spec.split(":")[0]:
        raise ConfigError(f"bad format for path: {spec}")
    parts = spec.split(":")
    if len(parts) == 3 and not _device_mode(parts[2]):
        raise ConfigError(f"bad mode specified: {parts[2]}")
    target = parts[0] if len(parts) == 1 or (len(parts) == 2 and _device_mode(parts[1])) \
        else parts[1]
    if not target.startswith("/"):
        raise ConfigError(f"{target} is not an absolute path")
    if len(parts) == 1:
        parts = [posixpath.normpath(parts[0])]
    elif len(parts) == 2:
        parts = [posixpath.normpath(parts[0]), parts[1]] if _device_mode(parts[1]) \
            else [parts[0], posixpath.normpath(parts[1])]
    mapping = {"PathOnHost": parts[0], "PathInContainer": parts[0],
               "CgroupPermissions": "rwm"}
    if len(parts) == 3:
        mapping["CgroupPermissions"] = parts[2]
    if len(parts) >= 2:
        if _device_mode(parts[1]):
            mapping["CgroupPermissions"] = parts[1]
        else:
            mapping["PathInContainer"] = parts[1]
    return mapping


def device_cgroup_rule(text: str) -> str:
    """``--device-cgroup-rule 'c 1:3 rwm'``."""
    fields = text.split(" ")
    ok = len(fields) == 3 and fields[0] in ("a", "b", "c")
    if ok:
        major, sep, minor = fields[1].partition(":")
        ok = bool(sep) and all(n == "*" or (n.isdigit() and n.isascii())
                               for n in (major, minor))
        ok = ok and 0 < len(fields[2]) <= 3 and all(c in "rwm" for c in fields[2])
    if not ok:
        raise ValueError(f"invalid device cgroup format '{text}'")
    return text


def _device_path(text: str) -> tuple[str, str]:
    path, sep, value = text.partition(":")
    if not sep or not path:
        raise ValueError(f"bad format: {text}")
    if not path.startswith("/dev/"):
        raise ValueError(f"bad format for device path: {text}")
    return path, value


def weight_device(text: str) -> dict:
    path, value = _device_path(text)
    try:
        weight = decimal_uint(value, 16)
    except ValueError:
        weight = -1
    if weight < 0 or (weight > 0 and not 10 <= weight <= 1000):
        raise ValueError(f"invalid weight for device: {text}")
    return {"Path": path, "Weight": weight}


def bps_device(text: str) -> dict:
    path, value = _device_path(text)
    try:
        rate = ram_in_bytes(value)
    except ValueError:
        raise ValueError(f"invalid rate for device: {text}. The correct format is "
                         "<device-path>:<number>[<unit>]. Number must be a positive "
                         "integer. Unit is optional and can be kb, mb, or gb") from None
    return {"Path": path, "Rate": rate}


def iops_device(text: str) -> dict:
    path, value = _device_path(text)
    try:
        rate = decimal_uint(value, 64)
    except ValueError:
        raise ValueError(f"invalid rate for device: {text}. The correct format is "
                         "<device-path>:<number>. Number must be a positive integer"
                         ) from None
    return {"Path": path, "Rate": rate}


def _go_bool(text: str) -> bool:
    from estiba.cli.docker.flags import _FALSE, _TRUE

    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(text)


def _csv_fields(text: str) -> list[str]:
    import csv

    try:
        return next(csv.reader([text], strict=True))
    except (csv.Error, StopIteration) as err:
        raise ValueError(str(err)) from None


def mount(text: str) -> dict:
    """``--mount type=bind,source=/a,target=/b,readonly`` as a Mount."""
    import os

    m: dict = {"Type": "volume"}

    def options(key: str) -> dict:
        if key not in m:
            m[key] = {"Labels": {}, "DriverConfig": {}} if key == "VolumeOptions" else {}
        return m[key]

    for field in _csv_fields(text):
        key, sep, value = field.partition("=")
        key = key.lower()
        if not sep:
            if key in ("readonly", "ro"):
                m["ReadOnly"] = True
            elif key == "volume-nocopy":
                options("VolumeOptions")["NoCopy"] = True
            elif key == "bind-nonrecursive":
                options("BindOptions")["NonRecursive"] = True
            else:
                raise ValueError(f"invalid field '{field}' must be a key=value pair")
            continue
        try:
            if key == "type":
                m["Type"] = value.lower()
            elif key in ("source", "src"):
                m["Source"] = os.path.abspath(value) if value == "." or \
                    value.startswith("./") else value
            elif key in ("target", "dst", "destination"):
                m["Target"] = value
            elif key in ("readonly", "ro"):
                m["ReadOnly"] = _go_bool(value)
            elif key == "consistency":
                m["Consistency"] = value.lower()
            elif key == "bind-propagation":
                options("BindOptions")["Propagation"] = value.lower()
            elif key == "bind-nonrecursive":
                options("BindOptions")["NonRecursive"] = _go_bool(value)
            elif key == "bind-create-host-path":
                options("BindOptions")["CreateMountpoint"] = _go_bool(value)
            elif key == "volume-subpath":
                options("VolumeOptions")["Subpath"] = value
            elif key == "volume-nocopy":
                options("VolumeOptions")["NoCopy"] = _go_bool(value)
            elif key == "volume-label":
                k, _, v = value.partition("=")
                if k:
                    options("VolumeOptions")["Labels"][k] = v
            elif key == "volume-driver":
                options("VolumeOptions")["DriverConfig"]["Name"] = value
            elif key == "volume-opt":
                k, _, v = value.partition("=")
                driver = options("VolumeOptions")["DriverConfig"]
                if k:
                    driver.setdefault("Options", {})[k] = v
            elif key == "tmpfs-size":
                options("TmpfsOptions")["SizeBytes"] = ram_in_bytes(value)
            elif key == "tmpfs-mode":
                options("TmpfsOptions")["Mode"] = int(value, 8)
            else:
                raise LookupError
        except LookupError:
            raise ValueError(f"unexpected key '{key}' in '{field}'") from None
        except ValueError:
            raise ValueError(f"invalid value for {key}: {value}") from None
    if not m.get("Type"):
        raise ValueError("type is required")
    if not m.get("Target"):
        raise ValueError("target is required")
    for key, kind in (("VolumeOptions", "volume"), ("BindOptions", "bind"),
                      ("TmpfsOptions", "tmpfs")):
        if key in m and m["Type"] != kind:
            raise ValueError(f"cannot mix '{kind}-*' options with mount type "
                             f"'{m['Type']}'")
    vol = m.get("VolumeOptions")
    if vol is not None and not vol["Labels"]:
        del vol["Labels"]
    for key in ("ReadOnly",):
        if not m.get(key):
            m.pop(key, None)
    return m


# --- files of variables and labels ---------------------------------------------------------


def _key_value_file(path: str, environ: Mapping[str, str] | None) -> list[str]:
    """docker's parseKeyValueFile: ``K=V`` lines, ``#`` comments, blank lines; ``K``
    alone takes its value from ``environ`` (left out when ``environ`` lacks it) or,
    for labels (``environ`` None), stays as it is."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise ConfigError(go_path_error("open", str(err.filename), err)) from None
    invalid = f"invalid env file ({path}): "
    lines: list[str] = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"env file {path} contains invalid utf8 bytes at line "
                              f"{number}: {list(raw)}") from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        text = text.removesuffix("\r").lstrip()
        if not text or text.startswith("#"):
            continue
        name, sep, value = text.partition("=")
        name = name.lstrip(_SPACES)
        if any(c in name for c in _SPACES):
            raise ConfigError(f"{invalid}variable '{name}' contains whitespaces")
        if not name:
            raise ConfigError(f"{invalid}no variable name on line '{text}'")
        if sep:
            lines.append(f"{name}={value}")
        elif environ is None:
            lines.append(text.strip())
        elif text in environ:
            lines.append(f"{name.strip()}={environ[text]}")
        # an env file's variable that the client's environment lacks is left out
    return lines


def read_env_files(paths: list[str], environ: Mapping[str, str]) -> list[str]:
    return [line for path in paths for line in _key_value_file(path, environ)]


def read_label_files(paths: list[str]) -> list[str]:
    return [line for path in paths for line in _key_value_file(path, None)]


def unique_env(env: list[str]) -> list[str]:
    """One entry per variable, the last given value winning."""
    by_name: dict[str, str] = {}
    for item in env:
        by_name[item.partition("=")[0]] = item
    return list(by_name.values())
