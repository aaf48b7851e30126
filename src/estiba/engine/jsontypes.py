"""The types of a create request's Config as dockerd decodes them (pure): a value of
the wrong JSON type is refused with the error Go's decoder gives, before anything is
made."""

from __future__ import annotations

from estiba.errors import InvalidArgument

STRING, BOOL, INT, STRINGS, STR_OR_STRINGS, OBJECT, STR_MAP = (
    "string", "bool", "int", "[]string", "strslice.StrSlice", "struct", "map[string]string")

CONFIG_FIELDS = {
    "Hostname": STRING, "Domainname": STRING, "User": STRING, "WorkingDir": STRING,
    "Image": STRING, "StopSignal": STRING, "MacAddress": STRING,
    "AttachStdin": BOOL, "AttachStdout": BOOL, "AttachStderr": BOOL, "Tty": BOOL,
    "OpenStdin": BOOL, "StdinOnce": BOOL, "NetworkDisabled": BOOL, "ArgsEscaped": BOOL,
    "Cmd": STR_OR_STRINGS, "Entrypoint": STR_OR_STRINGS,
    "Env": STRINGS, "OnBuild": STRINGS, "Shell": STRINGS,
    "Labels": STR_MAP, "ExposedPorts": OBJECT, "Volumes": OBJECT, "Healthcheck": OBJECT,
    "HostConfig": OBJECT, "NetworkingConfig": OBJECT, "StopTimeout": INT,
}


EXEC_FIELDS = {
    "AttachStdin": BOOL, "AttachStdout": BOOL, "AttachStderr": BOOL, "Tty": BOOL,
    "Privileged": BOOL, "DetachKeys": STRING, "User": STRING, "WorkingDir": STRING,
    "Env": STRINGS, "Cmd": STRINGS, "ConsoleSize": "[2]uint",
}
UPDATE_FIELDS = {
    "BlkioWeight": "uint16", "CpuShares": "int64", "CpuPeriod": "int64",
    "CpuQuota": "int64", "CpusetCpus": STRING, "CpusetMems": STRING, "Memory": "int64",
    "MemoryReservation": "int64", "MemorySwap": "int64", "NanoCpus": "int64",
    "PidsLimit": "int64", "RestartPolicy": OBJECT,
}


def kind(value: object) -> str:
    """The JSON type of a decoded value, as Go's decoder names it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def mismatch(value: object, where: str, go_type: str) -> InvalidArgument:
    return InvalidArgument(f"json: cannot unmarshal {kind(value)} into Go struct field "
                           f"{where} of type {go_type}")


def fits(value: object, go_type: str) -> bool:
    """Whether a decoded JSON value is of ``go_type`` (as the names here give them)."""
    if go_type in (INT, "int64", "uint16"):
        return isinstance(value, int) and not isinstance(value, bool)
    if go_type == "[2]uint":
        return isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    if go_type == STRING:
        return isinstance(value, str)
    if go_type == BOOL:
        return isinstance(value, bool)
    if go_type == STRINGS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if go_type == STR_OR_STRINGS:
        return isinstance(value, str) or fits(value, STRINGS)
    if go_type == STR_MAP:
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if go_type == "array":
        return isinstance(value, list)
    return isinstance(value, dict)  # a struct or a map


def check(body: dict, fields: dict[str, str], struct: str) -> None:
    """InvalidArgument for the first of ``fields`` of ``body`` whose type is not the
    one dockerd decodes into ``struct``; null is always fine, as for Go."""
    for field, go_type in fields.items():
        value = body.get(field)
        if value is not None and not fits(value, go_type):
            where = field if field in ("HostConfig", "NetworkingConfig") else \
                f"{struct}.{field}"
            raise mismatch(value, where, go_type)


def check_config(config: dict) -> None:
    """``check`` of a create's body."""
    check(config, CONFIG_FIELDS, "ContainerConfigWrapper")
