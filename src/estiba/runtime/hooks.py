"""Running the config's hooks (runtime-spec config.md, "POSIX-platform Hooks").

A hook gets the container's state as JSON on stdin; it may be given a timeout in seconds,
after which it is killed and counts as failed. Its output is captured so a failure can
say what the hook said. Written with fork/exec rather than ``subprocess`` to keep the
runtime's start-up imports small (``subprocess`` pulls in threading and selectors).
"""

from __future__ import annotations

import os
import select
import time

from estiba.errors import Internal
from estiba.oci import json_codec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from estiba.oci.runtime_config import Hook
    from estiba.oci.state import State

_SIGKILL = 9


def run_hooks(kind: str, hooks: tuple[Hook, ...], state: State,
              warn: Callable[[str], None] | None = None) -> None:
    """Run each hook in order; the first failure raises ``Internal`` naming it. With
    ``warn`` (poststart, poststop: the spec has their failures only logged, "the
    remaining hooks and lifecycle continue") each failure goes to ``warn`` instead."""
    if not hooks:
        return
    payload = json_codec.dumps(state.to_json()).encode()
    for hook in hooks:
        if warn is None:
            run_hook(kind, hook, payload)
            continue
        try:
            run_hook(kind, hook, payload)
        except Internal as err:
            warn(str(err))


def run_hook(kind: str, hook: Hook, payload: bytes) -> None:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    args = list(hook.args) or [hook.path]
    env = dict(e.split("=", 1) if "=" in e else (e, "") for e in hook.env)
    pid = os.fork()
    if pid == 0:  # the hook
        try:
            os.dup2(in_r, 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.closerange(3, 1 << 20)  # a hook gets stdio only, whatever the caller passed
            os.execve(hook.path, args, env)
        except OSError as err:
            os.write(2, f"exec {hook.path}: {err.strerror}".encode())
        os._exit(127)
    os.close(in_r)
    os.close(out_w)
    output = b""
    try:
        try:
            os.write(in_w, payload)
        except BrokenPipeError:  # a hook may ignore its stdin
            pass
        os.close(in_w)
        deadline = None if hook.timeout is None else time.monotonic() + hook.timeout
        pidfd = os.pidfd_open(pid)
        try:
            poller = select.poll()
            poller.register(out_r, select.POLLIN)
            poller.register(pidfd, select.POLLIN)
            done = False
            while not done:
                wait_ms = None
                if deadline is not None:
                    wait_ms = max(0, int((deadline - time.monotonic()) * 1000))
                events = poller.poll(wait_ms)
                # past the deadline even when output keeps coming (a chatty hook)
                if not events or (deadline is not None and time.monotonic() >= deadline):
                    os.kill(pid, _SIGKILL)
                    os.waitpid(pid, 0)
                    raise Internal(f"{kind} hook {hook.path}: timed out after "
                                   f"{hook.timeout} s")
                for fd, _ in events:
                    if fd == out_r:
                        chunk = os.read(out_r, 65536)
                        if chunk:
                            output = (output + chunk)[-4096:]
                        else:
                            poller.unregister(out_r)
                    else:
                        done = True
        finally:
            os.close(pidfd)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(out_r)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        said = output.decode(errors="replace").strip()
        what = f"exit status {code}" if code > 0 else f"killed by signal {-code}"
        raise Internal(f"{kind} hook {hook.path}: {what}" + (f": {said}" if said else ""))
