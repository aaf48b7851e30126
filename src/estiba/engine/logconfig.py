"""A container's ``HostConfig.LogConfig`` (pure): Docker's log drivers as far as the
shim's log can be them. ``json-file`` (the default) and ``local`` are the shim's CRI
log, read by ``docker logs``; ``max-size`` bounds it (the shim starts the file over
once it is past it, so ``max-file`` beyond 1 keeps nothing more)."""

from __future__ import annotations

from estiba.errors import InvalidArgument, Unimplemented
from estiba.units import ram_in_bytes

READABLE = ("", "json-file", "local")
# Docker's other drivers: known, not served yet
ELSEWHERE = ("none", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk",
             "etwlogs", "gcplogs", "logentries")
OPTIONS = ("max-size", "max-file", "compress", "labels", "labels-regex", "env",
           "env-regex", "tag", "mode", "max-buffer-size")


def size_max(log_config: object) -> int:
    """The log's size bound in bytes (0: none) of a LogConfig; InvalidArgument or
    Unimplemented with Docker's words for what it cannot be."""
    if log_config is None:
        return 0
    if not isinstance(log_config, dict):
        raise InvalidArgument("json: cannot unmarshal into Go struct field "
                              "HostConfig.LogConfig of type container.LogConfig")
    driver = log_config.get("Type") or ""
    options = log_config.get("Config") or {}
    if not isinstance(driver, str) or not isinstance(options, dict):
        raise InvalidArgument("invalid LogConfig: Type is a string, Config an object")
    if driver in ELSEWHERE:
        raise Unimplemented(f"log driver {driver!r} is not supported yet: json-file "
                            "and local are")
    if driver not in READABLE:
        raise InvalidArgument(f'logger: no log driver named "{driver}" is registered')
    for key, value in options.items():
        if key not in OPTIONS:
            raise InvalidArgument(f"unknown log opt '{key}' for "
                                  f"{driver or 'json-file'} log driver")
        if not isinstance(value, str):
            raise InvalidArgument(f"log opt '{key}': a string is expected")
    max_files = options.get("max-file", "1")
    if not max_files.isdigit() or int(max_files) < 1:
        raise InvalidArgument("max-file cannot be less than 1")
    if "max-size" not in options:
        return 0
    try:
        size = ram_in_bytes(options["max-size"])
    except ValueError as err:
        raise InvalidArgument(f"invalid max-size: {options['max-size']}") from err
    if size <= 0:
        raise InvalidArgument("max-size must be a positive number")
    return size
