"""estibad's main: configuration, the core, the core API server, signals.

Memory (PSS from /proc/<pid>/smaps_rollup, ``python -S``, this VM): asyncio loads
``ssl`` (OpenSSL) for TLS transports the daemon never uses on unix sockets; it is kept
out while asyncio is imported (``sys.modules["ssl"] = None``, asyncio then binds None)
and allowed again afterwards, for code that does need TLS (a registry client). The
daemon's imports weigh 13.7 MiB so, 17.9 MiB with ``ssl``. An idle daemon serving the
core API is 14.3 MiB with an empty core, 14.5 MiB after 21 requests (2 threads), and
18.8 MiB with the test double of the core (which imports metadata/, content/,
snapshots/), 21.1 MiB with the real core (``build_core``); the goal is 35 MiB.
Start-up imports: ~40 ms, nearly all asyncio's (``asyncio.base_events`` pulls in
``concurrent.futures`` and ``logging``).

Exit statuses: 0 after SIGTERM/SIGINT, 1 when it cannot start (the log says why),
2 for a bad command line or configuration.
"""

from __future__ import annotations

import os
import sys

from estiba.daemon import config as configuration
from estiba.daemon.logs import Log

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from estiba.daemon.config import Config

THREADS = 64  # blocking service calls (image import, task wait, event subscribers)


def build_core(config: Config, failpoint: Callable[[str], None] | None = None) -> Any:
    """The real core for ``config``: ``estiba.core.services.Core`` over the root, its
    task service (``estiba.core.tasks.Tasks``: conmon shims, the configured runtimes,
    logs under ``<root>/tasks``) publishing to the core's events; ``failpoint`` is
    called at the named fault points (``failpoints.py``)."""
    from estiba.core.events import Events
    from estiba.core.services import Core
    from estiba.core.tasks import Tasks
    from estiba.kernel.linux import Linux

    kernel = Linux()
    events = Events()
    runtimes = config.runtime_paths()
    # the runtimes that are this installation's own estiba-runtime: the same code as
    # this daemon's, so their start and delete may run in-process
    from estiba.daemon.config import own_runtime_path

    own = own_runtime_path()
    in_process = [name for name, path in runtimes.items()
                  if os.path.realpath(path) == os.path.realpath(own)]
    tasks = Tasks(exec_root=config.exec_root, log_root=os.path.join(config.root, "tasks"),
                  runtimes=runtimes, default_runtime=config.default_runtime,
                  kernel=kernel, publish=events.publish, cgroup_parent=config.cgroup_parent,
                  failpoint=failpoint, in_process=in_process)
    return Core(config.root, tasks, kernel=kernel, events=events,
                cgroup_parent=config.cgroup_parent, failpoint=failpoint)


def build_network(config: Config, core: Any) -> Any:
    """The network service over the core's database (``estiba.network.system``), its
    kernel side restored; None for a core without a database (a test's)."""
    if not hasattr(core, "db"):
        return None
    from estiba.network.system import network_service

    service = network_service(core.db, config.exec_root, config.instance, serve_dns=True)
    service.restore()
    return service


def build_volumes(config: Config, core: Any) -> Any:
    """The volume service under the root (``estiba.volumes``); None for a core without a
    database (a test's)."""
    if not hasattr(core, "db"):
        return None
    from estiba.kernel.linux import Linux
    from estiba.volumes.service import VolumeService

    return VolumeService(core.db, config.root, Linux())


def _import_asyncio() -> None:
    if "asyncio" in sys.modules:
        return
    had_ssl = "ssl" in sys.modules
    if not had_ssl:
        sys.modules["ssl"] = None  # type: ignore[assignment]
    try:
        import asyncio  # noqa: F401
    finally:
        if not had_ssl:
            del sys.modules["ssl"]


def main(argv: list[str] | None = None,
         build_core: Callable[[Config], Any] = build_core) -> int:
    """Run the daemon until SIGTERM or SIGINT; the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if "-h" in argv or "--help" in argv:
        sys.stdout.write(configuration.USAGE)
        return 0
    try:
        config = configuration.load(argv)
    except configuration.ConfigError as err:
        sys.stderr.write(f"estibad: {err}\n{configuration.USAGE}")
        return 2
    log = Log(config.log_level, config.log_format)
    _import_asyncio()
    from estiba import errors
    from estiba.daemon import failpoints as fault_points

    try:
        failpoints = fault_points.Failpoints(config.debug_failpoints
                                             + fault_points.from_env())
    except ValueError as err:
        log("error", "bad configuration", error=str(err))
        return 2
    if failpoints.active:
        log("warning", "debug failpoints on", names=sorted(failpoints.active))
    from estiba.daemon.pidfile import PidFile

    pidfile = PidFile(config.exec_root)
    try:
        for path in (config.root, config.exec_root):
            try:
                os.makedirs(path, mode=0o711, exist_ok=True)
            except OSError as err:
                raise errors.from_oserror(f"make {path}", err) from err
        pidfile.acquire()
    except errors.EstibaError as err:
        log("error", "cannot start", error=str(err))
        return 1
    try:
        return _run(config, build_core, log, failpoints.hit if failpoints.active else None)
    finally:
        pidfile.release()


def _run(config: Config, build_core: Callable[..., Any],
         log: Callable[..., None], failpoint: Callable[[str], None] | None) -> int:
    import asyncio

    from estiba import errors

    try:
        # a build_core of tests takes the config alone
        core = build_core(config) if failpoint is None else build_core(config, failpoint)
    except Exception as exc:  # noqa: BLE001 - whatever stops the core, the daemon says it
        log("error", "cannot build the core", error=f"{type(exc).__name__}: {exc}")
        return 1
    try:
        return asyncio.run(serve(config, core, log))
    except errors.EstibaError as err:
        log("error", "cannot start", error=str(err))
        return 1
    finally:
        # the task service's exit watcher, then the core (events, database); the tasks
        # themselves keep running under their shims
        for obj in (getattr(core, "tasks", None), core):
            close = getattr(obj, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:  # noqa: BLE001 - stopping anyway; say it
                    log("warning", "close failed", error=f"{type(exc).__name__}: {exc}")


async def serve(config: Config, core: Any, log: Callable[..., None]) -> int:
    import asyncio
    import signal
    from concurrent.futures import ThreadPoolExecutor

    from estiba.api.core.app import CoreAPI, error_reply
    from estiba.api.core.server import Server
    from estiba.daemon import sockets

    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(THREADS, thread_name_prefix="estibad")
    loop.set_default_executor(executor)

    tasks = getattr(core, "tasks", None)
    if tasks is not None and hasattr(tasks, "adopt"):
        adopted = await loop.run_in_executor(executor, tasks.adopt)
        log("info", "adopted tasks", count=len(adopted))
        for ns, tid in getattr(tasks, "discarded", ()):
            log("warning", "removed a half-made task bundle", namespace=ns, id=tid)
    if tasks is not None and hasattr(tasks, "warm"):
        # in the background: the first exec waits for it only if it comes before
        loop.run_in_executor(executor, tasks.warm)
    if hasattr(core, "recover"):
        # what a crash left (work leases, temporary files, what only they held); no
        # work is in flight before the socket is served
        dropped, collected = await loop.run_in_executor(executor, core.recover)
        log("info", "recovered", leases_dropped=len(dropped),
            blobs_removed=len(collected.blobs_removed),
            snapshots_removed=len(collected.snapshots_removed))

    from estiba.api.docker.app import DockerAPI
    from estiba.api.docker.app import error_reply as docker_error_reply
    from estiba.engine import Engine

    gid = sockets.group_id(config.group)
    address = config.core_address
    idle = config.idle_timeout or None
    network = await loop.run_in_executor(executor, build_network, config, core)
    volumes = build_volumes(config, core)
    engine = await loop.run_in_executor(executor, Engine, core, "docker", network, volumes)
    # (server, where) of the core API, then of the Docker API on each host
    servers = [(Server(CoreAPI(core, executor, log), error_reply, executor, log,
                       idle_timeout=idle), configuration.Listener(path=address))]
    for listener in config.listeners:
        servers.append((Server(DockerAPI(engine, executor, log), docker_error_reply,
                               executor, log, idle_timeout=idle), listener))
    bound: list[tuple[str, tuple[int, int, int]]] = []
    try:
        for server, listener in servers:
            if not listener.path:
                # no file, so no group or mode: whoever reaches the port is served
                await server.listen_tcp(listener.host, listener.port)
                warn_if_exposed(server, listener, log)
                continue
            path = listener.path
            sockets.prepare(path)
            umask = os.umask(0o117 if gid >= 0 else 0o177)
            try:
                await server.listen_unix(path)
            finally:
                os.umask(umask)
            try:
                sockets.secure(path, gid)
                bound.append((path, sockets.identity(path)))
            except BaseException:
                sockets.remove(path)
                raise
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        log("info", "serving", core_address=address, root=config.root,
            exec_root=config.exec_root, instance=config.instance,
            docker_hosts=list(config.hosts), live_restore=config.live_restore,
            pid=os.getpid())
        await stop.wait()
        log("info", "stopping", grace=config.shutdown_timeout)
        engine.close()  # Docker waits in flight end (their threads must not hold the exit)
        await asyncio.gather(*(server.shutdown(config.shutdown_timeout)
                               for server, _ in servers))
        if not config.live_restore and tasks is not None:
            await loop.run_in_executor(executor, stop_tasks, core, config.shutdown_timeout,
                                       log)
    finally:
        for path, identity in bound:
            sockets.remove(path, identity)
    log("info", "stopped")
    # threads still blocked in a service call (a task wait) must not hold the exit
    executor.shutdown(wait=False, cancel_futures=True)
    return 0


def warn_if_exposed(server: Any, listener: configuration.Listener,
                    log: Callable[..., None]) -> None:
    """Warn, as dockerd does, when a TCP listener took an address other than loopback:
    without TLS, whoever reaches it drives the daemon, which is root on this host. The
    addresses bound are looked at, not the name given (``0.0.0.0``, a host name)."""
    exposed = [addr for addr in server.bound_addresses() if not _is_loopback(addr)]
    if exposed:
        log("warning", "binding to an IP address without TLS is insecure: it gives "
            "root access on this host to everyone who can reach it",
            host=listener.address, addresses=exposed)


def _is_loopback(address: str) -> bool:
    # IPv6's loopback, and IPv4's 127/8 whether written plainly or IPv4-mapped
    return address == "::1" or address.removeprefix("::ffff:").startswith("127.")


def stop_tasks(core: Any, timeout: float, log: Callable[..., None]) -> None:
    """live-restore = false: SIGTERM every running task, SIGKILL what is left after
    ``timeout`` seconds."""
    import time

    from estiba import errors

    running = []
    for ns in core.namespaces.list():
        for task in core.tasks.list(ns.name):
            if task.exit_status is None:
                running.append((ns.name, task.id))
    for ns, tid in running:
        try:
            core.tasks.kill(ns, tid, 15, all=True)
        except errors.EstibaError as err:
            log("warning", "stop task", namespace=ns, id=tid, error=str(err))
    deadline = time.monotonic() + timeout
    for ns, tid in running:
        try:
            while core.tasks.get(ns, tid).exit_status is None:
                if time.monotonic() > deadline:
                    core.tasks.kill(ns, tid, 9, all=True)
                    break
                time.sleep(0.1)
        except errors.EstibaError as err:
            log("warning", "stop task", namespace=ns, id=tid, error=str(err))
    log("info", "stopped tasks", count=len(running))


def run_main() -> None:
    """The launcher's and ``python -m``'s entry: exit with main's status, without
    waiting for threads still blocked in service calls."""
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
