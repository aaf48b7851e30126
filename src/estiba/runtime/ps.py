"""``ps``: the container's processes — host pids as JSON (what dockerd's ``top`` asks
for), or a ``ps(1)`` table limited to them."""

from __future__ import annotations

import json
import os

from estiba.errors import InvalidArgument, NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.runtime.container import Container


def pids(container: Container) -> list[int]:
    cgroup = container.cgroup()
    return sorted(cgroup.pids()) if cgroup.exists() else []


def ps_json(container: Container) -> str:
    return json.dumps(pids(container))


def ps_table(container: Container, ps_args: list[str]) -> str:
    import subprocess

    wanted = set(pids(container))
    try:
        out = subprocess.run(["ps", *(ps_args or ["-ef"])], capture_output=True,
                             text=True, check=True).stdout
    except FileNotFoundError:
        raise NotFound("ps(1) is not installed") from None
    except subprocess.CalledProcessError as err:
        raise InvalidArgument(f"ps: {err.stderr.strip()}") from None
    lines = out.splitlines()
    if not lines:
        return ""
    header = lines[0].split()
    if "PID" not in header:
        raise InvalidArgument("ps output has no PID column")
    col = header.index("PID")
    keep = [lines[0]]
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            keep.append(line)
    return "\n".join(keep) + os.linesep
