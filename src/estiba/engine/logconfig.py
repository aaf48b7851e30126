"""A container's ``HostConfig.LogConfig`` (pure): Docker's log drivers as far as the
shim's log can be them. ``json-file`` (the default) and ``local`` are the shim's CRI
log, read by ``docker logs``; ``max-size`` bounds it (the shim starts the file over
once it is past it, so ``max-file`` beyond 1 keeps nothing more).

A json-file log's attributes (``attributes``: the container's labels named by the
``labels``/``labels-regex`` options, its environment variables named by
``env``/``env-regex``) are what ``docker logs --details`` shows before each line
(``details``). dockerd stores them with each line as it writes it; here they are
computed from the container's Config when the log is read, the same since a
container's labels, environment and log options never change."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote_plus

from estiba.errors import InvalidArgument, Unimplemented
from estiba.units import ram_in_bytes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

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


@dataclass(frozen=True)
class LogSource:
    """What ``docker logs`` reads of a container: its task's CRI log (``path``, "" before
    its first start), whether it has a terminal, ``exited(timeout)`` for a follower,
    and the log's attributes for ``--details``."""

    path: str
    tty: bool
    exited: Callable[[float], Any]
    attributes: tuple[tuple[str, str], ...] = ()


def attributes(log_config: Mapping[str, Any] | None, labels: Mapping[str, str],
               env: Iterable[str]) -> dict[str, str]:
    """The attributes a json-file log keeps with each line (dockerd's
    ``logger.Info.ExtraAttributes``): labels named by ``labels`` or matching
    ``labels-regex``, environment variables named by ``env`` or matching
    ``env-regex``; none for the ``local`` driver, which keeps none (pure)."""
    log_config = log_config or {}
    if (log_config.get("Type") or "json-file") != "json-file":
        return {}
    options = log_config.get("Config") or {}
    variables = dict(e.split("=", 1) for e in env if "=" in e)
    found: dict[str, str] = {}
    for source, named, pattern in ((labels, "labels", "labels-regex"),
                                   (variables, "env", "env-regex")):
        for key in filter(None, (options.get(named) or "").split(",")):
            if key in source:
                found[key] = source[key]
        if options.get(pattern):
            try:
                matcher = re.compile(options[pattern])
            except re.error as err:
                raise InvalidArgument(f"invalid {pattern} {options[pattern]!r}: "
                                      f"{err}") from err
            found.update({k: v for k, v in source.items() if matcher.search(k)})
    return found


def details(attrs: Iterable[tuple[str, str]]) -> bytes:
    """What ``details=1`` puts before a log line: the attributes sorted by key as
    ``k=v`` pairs joined by commas, each side query-escaped, then a space (a lone
    space when there are none), as dockerd writes them (pure)."""
    pairs = ",".join(f"{quote_plus(k, safe='')}={quote_plus(v, safe='')}"
                     for k, v in sorted(attrs))
    return pairs.encode() + b" "
