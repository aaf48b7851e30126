"""Restart policies (pure): Docker's ``HostConfig.RestartPolicy`` checked at create,
whether an exit restarts the container, and the delay before it does.

- ``no`` (or ""): never; ``always``: after any exit; ``unless-stopped``: after any exit
  unless a user stopped it; ``on-failure[:N]``: after a non-zero exit, at most N times
  (0: no limit). A container a user stopped or killed is not restarted until a user
  starts it again; at daemon start, ``always`` ones are started even then, as Docker.
- The delay starts at 100 ms and doubles at each restart up to a minute; a run of 10 s
  or more starts it over.
"""

from __future__ import annotations

from estiba.errors import InvalidArgument

NAMES = ("", "no", "always", "unless-stopped", "on-failure")
FIRST_DELAY = 0.1
MAX_DELAY = 60.0
STEADY_RUN = 10.0  # seconds of running after which the delay starts over


def check(policy: dict | None, auto_remove: bool = False) -> dict:
    """The policy as stored ({"Name", "MaximumRetryCount"}); InvalidArgument with
    Docker's messages for what it refuses."""
    policy = policy or {}
    if not isinstance(policy, dict):
        raise InvalidArgument("invalid restart policy: an object is expected")
    name = policy.get("Name") or ""
    count = policy.get("MaximumRetryCount") or 0
    if name not in NAMES:
        raise InvalidArgument(f"invalid restart policy: unknown policy '{name}'; use one "
                              "of 'no', 'always', 'on-failure', or 'unless-stopped'")
    if not isinstance(count, int) or isinstance(count, bool):
        raise InvalidArgument("invalid restart policy: MaximumRetryCount must be an "
                              "integer")
    if count < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be "
                              "negative")
    if count and name != "on-failure":
        raise InvalidArgument("invalid restart policy: maximum retry count can only be "
                              "used with 'on-failure'")
    if auto_remove and name not in ("", "no"):
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    return {"Name": name, "MaximumRetryCount": count}


def should_restart(policy: dict, exit_code: int, restarts: int,
                   stopped_by_user: bool) -> bool:
    """Whether the exit of a container with ``policy`` (restarted ``restarts`` times
    already) restarts it."""
    name = policy.get("Name") or ""
    if stopped_by_user or name in ("", "no"):
        return False
    if name == "on-failure":
        limit = policy.get("MaximumRetryCount") or 0
        return exit_code != 0 and (limit == 0 or restarts < limit)
    return True


def start_at_boot(policy: dict, exit_code: int | None, restarts: int,
                  stopped_by_user: bool) -> bool:
    """Whether the daemon starts the container when it starts: ``always`` ones, the
    others as if their exit (``exit_code``; None: it is not known, as after a reboot)
    had just been seen."""
    if policy.get("Name") == "always":
        return True
    return should_restart(policy, 1 if exit_code is None else exit_code, restarts,
                          stopped_by_user)


def next_delay(previous: float, ran_for: float) -> float:
    """The delay before the next restart, after ``previous`` and a run of ``ran_for``
    seconds."""
    if previous <= 0 or ran_for >= STEADY_RUN:
        return FIRST_DELAY
    return min(previous * 2, MAX_DELAY)
