"""``estiba run --explain``: after the container ran, what happened below the Docker
API, read from the daemon's journal of the container (``GET /containers/{id}/explain``,
estibad's own) — the engine's steps, the core's calls (containerd's services), the
shim's and the OCI runtime's commands, and the kernel objects made — one step a line,
indented by how far below the Docker API its layer is, its details beneath it.

``render`` is pure (the steps -> the text); ``report`` asks the daemon and renders.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from estiba.client.docker import APIClient

# how far below the Docker API each layer is (its indentation), and what it stands for
DEPTH = {"engine": 0, "core": 1, "shim": 2, "runtime": 2, "kernel": 3}
LEGEND = ("engine: dockerd's part (Docker's semantics); core: containerd's services; "
          "shim: conmon, which holds the container's stdio and exit; runtime: "
          "estiba-runtime (runc's part); kernel: what the kernel made")
# the engine's verbs: each begins a paragraph
VERBS = ("create", "attach", "start", "stop", "kill", "exit", "remove", "removed")
COMMANDS = ("argv", "args")  # details that are command lines
ID = "$ID"  # stands for the container's id in the details
# the longest a detail's value is shown on its key's line; a longer list goes beneath
_INLINE = 100
# a --rm container's last steps (its network and volumes freed) come a moment after the
# wait the CLI returned from: how long ``report`` waits for them
REMOVAL_WAIT = 2.0
_POLL = 0.05


def report(client: APIClient, container_id: str) -> str:
    """The explanation of what the container's verbs did; a note saying so when the
    daemon keeps no journal of it (not estibad, or the container is too old)."""
    import time

    from estiba.client.docker import DockerError

    deadline = time.monotonic() + REMOVAL_WAIT
    while True:
        try:
            steps = client.explain(container_id)
        except DockerError as err:
            if err.status != 404:
                raise
            return (f"--explain: the daemon keeps no journal of container "
                    f"{container_id[:12]}: {err.message}\n")
        if not _removing(steps) or time.monotonic() >= deadline:
            return render(steps)
        time.sleep(_POLL)


def _removing(steps: list[dict]) -> bool:
    """Whether a removal is on its way: begun, not ended."""
    actions = [s.get("action") for s in steps if s.get("layer") == "engine"]
    return "remove" in actions and "removed" not in actions


def render(steps: list[dict]) -> str:
    """The text of ``steps`` (``{"at", "layer", "action", "details"}`` each): a head
    naming the container, then each step — when, its layer and action, indented by
    its layer's depth, and its details beneath (the container's id, in every path
    that holds it, as ``$ID``) — a blank line before each of the engine's verbs."""
    if not steps:
        return "No steps were recorded.\n"
    first = steps[0].get("details") or {}
    name = str(first.get("name") or "").lstrip("/")
    cid = str(first.get("id") or "")
    head = f"What happened below the Docker API for container {cid[:12]}"
    lines = [head + (f" ({name})" if name else "") + ":"]
    if cid:
        lines.append(f"  {ID} below is its id, {cid}")
    lines += [_wrap(LEGEND, "  "), ""]
    for index, step in enumerate(steps):
        if index > 0 and step.get("layer") == "engine" and step.get("action") in VERBS:
            lines.append("")
        lines.extend(_step_lines(step, cid))
    return "\n".join(lines) + "\n"


def _step_lines(step: dict, cid: str) -> list[str]:
    layer = str(step.get("layer", ""))
    action = str(step.get("action", ""))
    details = dict(step.get("details") or {})
    pad = "  " * DEPTH.get(layer, 0)
    when = f"{float(step.get('at') or 0) * 1000:9.1f} ms  "
    if layer == "engine" and action == "left out":
        return [f"{when}{pad}... {details.get('steps', 0)} steps left out ..."]
    api = details.pop("api", "")
    if action == "create" and layer == "engine":
        details.pop("id", None)  # the head's
    lines = [f"{when}{pad}{layer:<7} {action}" + (f"  ({api})" if api else "")]
    inner = " " * len(when) + pad + " " * 10
    for key, value in details.items():
        lines.extend(_detail_lines(inner, str(key), value, cid))
    return lines


def _detail_lines(inner: str, key: str, value: Any, cid: str) -> list[str]:
    if key in COMMANDS and isinstance(value, list):
        import shlex

        value = shlex.join(str(v) for v in value)
    if isinstance(value, list):
        items = [_shown(v, cid) for v in value]
        if not items:
            return [f"{inner}{key}: none"]
        text = ", ".join(items)
        if len(text) <= _INLINE and not any(", " in item for item in items):
            return [f"{inner}{key}: {text}"]
        return [f"{inner}{key}:", *(f"{inner}  {item}" for item in items)]
    return [f"{inner}{key}: {_shown(value, cid)}"]


def _shown(value: Any, cid: str) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return text.replace(cid, ID) if cid else text


def _wrap(text: str, indent: str, width: int = 88) -> str:
    """``text`` cut between words into lines of at most ``width``."""
    lines, line = [], ""
    for word in text.split():
        if line and len(indent) + len(line) + 1 + len(word) > width:
            lines.append(indent + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(indent + line)
    return "\n".join(lines)
