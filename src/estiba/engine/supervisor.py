"""What happens when a Docker container's task exits, on one thread for all of them:
``AutoRemove`` removes it, a restart policy (``policy.py``) starts it again after its
delay. At daemon start the same thread looks at every container once: those whose exit
was missed while the daemon was down are removed or restarted as their policies say,
``always`` ones are started."""

from __future__ import annotations

import contextlib
import heapq
import threading
import time

from estiba import errors
from estiba.engine import policy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from estiba.engine.containers import Containers

_TICK = 0.5  # how often the thread looks whether it is told to stop


class Supervisor:
    def __init__(self, core: Any, namespace: str, containers: Containers) -> None:
        self.core = core
        self.ns = namespace
        self.containers = containers
        self._subscription = core.events.subscribe(("/tasks/exit",), namespace)
        self._lock = threading.Lock()
        self._due: list[tuple[float, str]] = []  # (monotonic time, container id)
        self._delays: dict[str, float] = {}  # the last delay of each restarting container
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="docker-supervisor",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        self._subscription.close()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def restarting(self, cid: str) -> bool:
        """Whether ``cid`` waits for its restart (Docker's "Restarting" state)."""
        with self._lock:
            return any(c == cid for _, c in self._due)

    def cancel(self, cid: str) -> None:
        """Forget a pending restart (the container is stopped or removed by a user)."""
        with self._lock:
            self._due = [(t, c) for t, c in self._due if c != cid]
            heapq.heapify(self._due)
            self._delays.pop(cid, None)

    # --- the thread ------------------------------------------------------------------

    def _run(self) -> None:
        with contextlib.suppress(errors.EstibaError):
            self._boot()
        while not self._closing.is_set():
            with self._lock:
                wait = self._due[0][0] - time.monotonic() if self._due else _TICK
            event = self._subscription.get(timeout=max(0.0, min(wait, _TICK)))
            if event is not None:
                attrs = dict(event.attributes)
                if not attrs.get("exec_id"):
                    self._guard(self._on_exit, attrs.get("id", ""),
                                int(attrs.get("exit_status") or 0))
            self._restart_due()

    def _guard(self, fn: Any, *args: Any) -> None:
        """One container's trouble is not the others': an error is logged by nobody
        but ends nothing (the container is left as it is, as Docker's monitor does)."""
        with contextlib.suppress(errors.EstibaError, OSError, ValueError):
            fn(*args)

    def _boot(self) -> None:
        for container in self.containers.records():
            task = self.containers.task_of(container.id)
            if task is not None and task.exit_status is None:
                continue
            self._guard(self.containers.release_ended, container.id)
            host_config = self.containers.host_config(container)
            if task is not None and host_config.get("AutoRemove"):
                self._guard(self.containers.remove, container.id, True, True)
                continue
            if not self.containers.started_at(container):
                continue  # never started: not for a policy to start
            restarts, by_user = self.containers.restart_state(container)
            code = task.exit_status if task is not None else None
            if policy.start_at_boot(host_config.get("RestartPolicy") or {}, code,
                                    restarts, by_user):
                self._guard(self.containers.restart_by_policy, container.id, True)

    def _on_exit(self, cid: str, code: int) -> None:
        try:
            container = self.containers.record(cid)
        except errors.NotFound:
            return
        host_config = self.containers.host_config(container)
        self.containers.journal.note(cid, "engine", "exit", {
            "status": code, "AutoRemove": bool(host_config.get("AutoRemove"))})
        if host_config.get("AutoRemove"):
            # its anonymous volumes with it, as Docker's --rm does; its network last
            self.containers.remove(cid, True, volumes=True)
            return
        # Docker frees a stopped container's addresses and ports at once
        self._guard(self.containers.release_ended, cid)
        restarts, by_user = self.containers.restart_state(container)
        if not policy.should_restart(host_config.get("RestartPolicy") or {}, code,
                                     restarts, by_user):
            return
        ran_for = self.containers.ran_for(container)
        with self._lock:
            delay = policy.next_delay(self._delays.get(cid, 0.0), ran_for)
            self._delays[cid] = delay
        self._schedule(cid, delay)

    def _schedule(self, cid: str, delay: float) -> None:
        with self._lock:
            heapq.heappush(self._due, (time.monotonic() + delay, cid))

    def _restart_due(self) -> None:
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > now:
                    return
                _, cid = heapq.heappop(self._due)
            self._guard(self.containers.restart_by_policy, cid)
