"""Containers as objects: ``Container`` (its inspect JSON and its verbs) and
``ContainerCollection`` (get, list, create, run, prune). The create body comes from
``container_config``; here is only the calling."""

from __future__ import annotations

from estiba.client.models.container_config import argv, container_config, update_body
from estiba.client.models.errors import ContainerError, NotFound
from estiba.client.models.resource import Collection, Model, merge_filters

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from typing import Any, BinaryIO

    from estiba.client.connection import Hijacked
    from estiba.client.models.images import Image

EXEC_EXIT_WAIT = 10.0  # seconds an ended exec's output may precede its exit code


class ExecResult(tuple[int | None, bytes | tuple[bytes, bytes]]):
    """(exit_code, output): ``exit_code`` None for a detached exec; ``output`` bytes,
    or (stdout, stderr) when demultiplexed. A tuple of two named by properties
    (``typing.NamedTuple`` would cost the command line ~8 ms to import)."""

    __slots__ = ()

    def __new__(cls, exit_code: int | None, output: bytes | tuple[bytes, bytes]
                ) -> ExecResult:
        return super().__new__(cls, (exit_code, output))

    @property
    def exit_code(self) -> int | None:
        return self[0]

    @property
    def output(self) -> bytes | tuple[bytes, bytes]:
        return self[1]

    def __repr__(self) -> str:
        return f"ExecResult(exit_code={self[0]!r}, output={self[1]!r})"


def joined(pieces: Iterator[tuple[int, bytes]] | list[tuple[int, bytes]],
           demux: bool = False) -> bytes | tuple[bytes, bytes]:
    """The (stream, bytes) pieces as one output in the order received, or (stdout,
    stderr) apart."""
    if not demux:
        return b"".join(data for _, data in pieces)
    out: dict[int, list[bytes]] = {1: [], 2: []}
    for stream, data in pieces:
        out.setdefault(stream, []).append(data)
    return b"".join(out[1]), b"".join(out[2])


def _read_hijacked(conn: Hijacked, tty: bool) -> list[tuple[int, bytes]]:
    from estiba.client.streams import Demux

    demux, pieces = Demux(), []
    with conn:
        while data := conn.recv():
            pieces.extend([(1, data)] if tty else demux.feed(data))
    return pieces


def id_of(container: Container | str) -> str:
    return container.id if isinstance(container, Container) else container


class Container(Model):
    def _inspect(self) -> dict[str, Any]:
        return self.client.calls.inspect_container(self.id)

    @property
    def name(self) -> str:
        return (self.attrs.get("Name") or "").lstrip("/")

    @property
    def status(self) -> str:
        """created, running, paused, restarting, removing, exited or dead (as last
        inspected: ``reload()`` first for now's)."""
        return self.attrs.get("State", {}).get("Status", "")

    @property
    def labels(self) -> dict[str, str]:
        return self.attrs.get("Config", {}).get("Labels") or {}

    @property
    def tty(self) -> bool:
        return bool(self.attrs.get("Config", {}).get("Tty"))

    @property
    def image(self) -> Image:
        return self.client.images.get(self.attrs["Image"])

    @property
    def ports(self) -> dict[str, list[dict[str, str]] | None]:
        return self.attrs.get("NetworkSettings", {}).get("Ports") or {}

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> bool:
        """True: started by this call; False: it was running already."""
        return self.client.calls.start(self.id)

    def stop(self, timeout: int | None = None, signal: str = "") -> bool:
        """True: stopped by this call; False: it was not running."""
        return self.client.calls.stop(self.id, timeout, signal)

    def kill(self, signal: str | int = "") -> None:
        self.client.calls.kill(self.id, signal)

    def restart(self, timeout: int | None = None) -> None:
        self.client.calls.restart(self.id, timeout)

    def pause(self) -> None:
        self.client.calls.pause(self.id)

    def unpause(self) -> None:
        self.client.calls.unpause(self.id)

    def remove(self, force: bool = False, volumes: bool = False) -> None:
        self.client.calls.remove_container(self.id, force, volumes)

    def wait(self, condition: str = "") -> dict[str, Any]:
        """``{"StatusCode", "Error"}`` once it is not running (``condition``:
        not-running, next-exit, removed)."""
        return self.client.calls.wait(self.id, condition)

    def rename(self, name: str) -> None:
        self.client.calls.rename(self.id, name)
        self.reload()

    def update(self, **changes: Any) -> dict[str, Any]:
        """Change resources or the restart policy (cpu_shares, mem_limit, pids_limit,
        restart_policy ...); the daemon's answer (its ``Warnings``)."""
        return self.client.calls.update_container(self.id, update_body(**changes))

    def resize(self, height: int, width: int) -> None:
        self.client.calls.resize(self.id, height, width)

    # --- its processes and output ----------------------------------------------------

    def logs(self, *, stdout: bool = True, stderr: bool = True, stream: bool = False,
             follow: bool = False, timestamps: bool = False, tail: int | str = "all",
             since: str | float | None = None, until: str | float | None = None,
             demux: bool = False) -> bytes | tuple[bytes, bytes] | Iterator[bytes]:
        """The output as bytes (``demux``: (stdout, stderr)); with ``stream`` the pieces
        as they come (``follow``: until the container ends, otherwise what is there)."""
        pieces = self.client.calls.logs(self.id, stdout=stdout, stderr=stderr,
                                        follow=follow, tail=tail, since=since,
                                        until=until, timestamps=timestamps,
                                        tty=self.tty if "Config" in self.attrs else None)
        if stream:
            return (data for _, data in pieces)
        return joined(pieces, demux)

    def exec_run(self, cmd: str | Sequence[str], *, stdout: bool = True,
                 stderr: bool = True, tty: bool = False, privileged: bool = False,
                 user: str = "", workdir: str = "",
                 environment: Mapping[str, Any] | Sequence[str] | None = None,
                 detach: bool = False, demux: bool = False) -> ExecResult:
        """Run ``cmd`` in the running container (a string is run by ``/bin/sh -c``);
        its exit code and output once it ends (``detach``: at once, no output)."""
        import time

        from estiba.client.models.container_config import env_list

        api = self.client.calls
        exec_id = api.exec_create(self.id, argv(cmd) or [], tty=tty, stdout=stdout,
                                  stderr=stderr, env=env_list(environment),
                                  workdir=workdir, user=user, privileged=privileged)
        conn = api.exec_start(exec_id, tty=tty, detach=detach)
        if conn is None:
            return ExecResult(None, (b"", b"") if demux else b"")
        output = joined(_read_hijacked(conn, tty), demux)
        deadline = time.monotonic() + EXEC_EXIT_WAIT
        pause = 0.005
        while (state := api.exec_inspect(exec_id))["Running"]:
            if time.monotonic() > deadline:
                break  # its output ended but it runs on (a daemonised child): no code yet
            time.sleep(pause)
            pause = min(pause * 2, 0.2)
        return ExecResult(None if state["Running"] else state["ExitCode"], output)

    def attach(self, *, stdin: bool = False, stdout: bool = True, stderr: bool = True,
               logs: bool = False, detach_keys: str = "") -> Hijacked:
        """Its stdio as the taken-over connection: Docker's multiplexed frames without a
        terminal (``estiba.client.streams.Demux``), raw bytes with one."""
        return self.client.calls.attach(self.id, stdin=stdin, stdout=stdout,
                                        stderr=stderr, logs=logs, detach_keys=detach_keys)

    def top(self, ps_args: str = "") -> dict[str, Any]:
        """``{"Titles": [...], "Processes": [[...], ...]}``."""
        return self.client.calls.top(self.id, ps_args)

    def stats(self, stream: bool = False) -> dict[str, Any] | Iterator[dict[str, Any]]:
        """One sample, or (``stream``) one about every second until closed."""
        return self.client.calls.stats(self.id, stream)

    # --- its filesystem --------------------------------------------------------------

    def put_archive(self, path: str, data: bytes | BinaryIO) -> None:
        """Extract the tar ``data`` into the directory ``path``."""
        self.client.calls.put_archive(self.id, path, data)

    def get_archive(self, path: str) -> tuple[Iterator[bytes], dict[str, Any]]:
        """(a tar stream of ``path``, its stat: name, size, mode, mtime, linkTarget)."""
        stat, chunks = self.client.calls.get_archive(self.id, path)
        return chunks, stat

    def diff(self) -> list[dict[str, Any]]:
        """The paths changed since it was created: ``{"Path", "Kind"}`` (0 changed,
        1 added, 2 deleted)."""
        return self.client.calls.changes(self.id)

    def export(self) -> Iterator[bytes]:
        """Its whole filesystem as a tar stream."""
        return self.client.calls.export(self.id)

    def commit(self, repository: str = "", tag: str = "", *, message: str = "",
               author: str = "", changes: Sequence[str] = (), pause: bool = True
               ) -> Image:
        """Its filesystem and config as a new image (``changes``: Dockerfile
        instructions applied to the config)."""
        made = self.client.calls.commit(self.id, repository, tag, message, author,
                                        changes, pause)
        return self.client.images.get(made["Id"])


class ContainerCollection(Collection):
    def get(self, id_or_name: str) -> Container:
        return Container(self.api.inspect_container(id_or_name), self.client)

    def list(self, *, all: bool = False, filters: Mapping[str, Any] | None = None,
             limit: int | None = None, sparse: bool = False, **more_filters: Any
             ) -> list[Container]:
        """The containers (``all``: stopped ones too), filtered as ``docker ps
        --filter`` (``label="a=b"``, ``status="exited"``, ``name=...``); ``sparse``:
        ``attrs`` the list's short form, not an inspect of each."""
        found = self.api.containers(all=all, limit=limit,
                                    filters=merge_filters(filters, more_filters))
        if sparse:
            return [Container(item, self.client) for item in found]
        return [Container(attrs, self.client) for attrs in self._all_inspected(
            [item["Id"] for item in found], self.api.inspect_container)]

    def create(self, image: str, command: str | Sequence[str] | None = None, *,
               pull: bool = True, **options: Any) -> Container:
        """A new container of ``image``; ``options``: see ``container_config`` (name,
        environment, ports, volumes, network ...). A missing image is pulled first
        unless ``pull`` is False, as ``docker run`` does."""
        request = container_config(image, command, **options)
        try:
            made = self.api.create_container(request.body, request.name, request.platform)
        except NotFound as err:
            if not pull or "no such image" not in err.message.lower():
                raise
            self.client.images.pull(image, platform=request.platform)
            made = self.api.create_container(request.body, request.name, request.platform)
        return self.get(made["Id"])

    def run(self, image: str, command: str | Sequence[str] | None = None, *,
            detach: bool = False, remove: bool = False, stdout: bool = True,
            stderr: bool = True, **options: Any) -> Container | bytes:
        """Create and start a container. ``detach``: the started Container (with
        ``remove``, the daemon removes it when it exits, as ``docker run -d --rm``).
        Otherwise wait for it to exit and return its output (``stdout``/``stderr``:
        which streams); a non-zero exit raises ``ContainerError`` with the status and
        stderr; ``remove``: removed once its output is read."""
        if detach and remove:
            options["auto_remove"] = True
        container = self.create(image, command, **options)
        if detach:
            container.start()
            return container.reload()
        try:
            container.start()
            status = container.wait()["StatusCode"]
            if status != 0:
                raise ContainerError(container, status, argv(command), image,
                                     container.logs(stdout=False, stderr=True))  # type: ignore[arg-type]
            return container.logs(stdout=stdout, stderr=stderr)  # type: ignore[return-value]
        finally:
            if remove:
                try:
                    container.remove(force=True)
                except NotFound:
                    pass  # gone already (auto_remove, or removed meanwhile)

    def prune(self, filters: Mapping[str, Any] | None = None, **more_filters: Any
              ) -> dict[str, Any]:
        """Remove the stopped containers: ``{"ContainersDeleted", "SpaceReclaimed"}``."""
        return self.api.prune_containers(merge_filters(filters, more_filters))
