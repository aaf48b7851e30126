"""The Docker Engine API's low-level client: one method per endpoint of the Docker
Engine API (its swagger spec), parsed JSON back, iterators for the streams. The
``estiba`` command line stands on it; it works against estibad and against any
Docker-compatible daemon.

The rules it keeps:

- Host: ``unix:///path``, or ``tcp://HOST:PORT`` as Docker reads it (``tcp://HOST``:
  port 2375, ``tcp://[::1]:2375``, ``http://`` and no scheme alike), plain HTTP; TLS
  (``https://``, ``$DOCKER_TLS_VERIFY``) and ``ssh://`` raise ``InvalidArgument``.
  ``""`` means ``$ESTIBA_HOST``, then ``$DOCKER_HOST``, then
  ``unix:///run/estiba/estiba.sock``.
- Version: every path but ``/_ping`` is ``/v{version}/...``. A version given is used as
  is; ``""`` is negotiated on first use: the ``Api-Version`` header of ``HEAD /_ping``,
  capped at ``CLIENT_MAX`` (the lower of the two; ``1.24`` when the daemon sends none,
  as daemons older than the header did).
- Queries: values percent-encoded (``connection.quote``); booleans as ``1``/``0``;
  ``None`` and ``""`` left out; ``filters`` a dict of lists (a lone string is taken as
  a list of one) sent as Docker's JSON query parameter.
- Errors: a non-2xx reply raises ``DockerError(status, message)``, the ``message`` of
  the daemon's ``{"message": ...}`` (or its text). 304 is an answer, not an error, for
  ``start`` and ``stop``: they return whether this call changed the container's state
  (False: it was already running / already stopped). An ``{"error": ...}`` object in a
  progress stream (pull, load, import) raises ``DockerError`` with the reply's status
  once the objects before it are handed out. A daemon that cannot be reached raises
  ``estiba.errors.Unavailable``.
- Streams: JSON streams (events, stats, pull, load, import) are decoded object by object,
  whatever the chunking (``JSONStream``). A streaming endpoint gets a connection of its
  own, so the client stays usable while a stream is read; the stream's connection closes
  when it is exhausted or closed. ``timeout`` bounds every read, streams' included.
  ``logs`` come as (stream, bytes): demultiplexed (1 stdout, 2 stderr) unless the
  container has a terminal (raw bytes, as stream 1).
- Hijacked endpoints (``attach``, ``exec_start``) ask for ``Connection: Upgrade`` /
  ``Upgrade: tcp``, expect 101 (200 from daemons that do not upgrade) and return the
  raw connection (``connection.Hijacked``): Docker's multiplexed frames without a tty
  (``streams.Demux``), the terminal's bytes with one.

Start-up cost (``python -S -X importtime``, this VM, bytecode cached): 2.0 ms with
``connection``, ``streams``, ``errors`` and ``oci.json_codec`` (``core.py``: 1.5 ms);
8.4 ms when the source must be compiled (``PYTHONDONTWRITEBYTECODE``). It imports no
``json`` (``re`` and ``enum``: ~6 ms), ``os`` only when the host comes from the
environment, and otherwise only the C module ``_json`` (``binascii`` when asked).
"""

from __future__ import annotations

import _json

from estiba.client.connection import (
    ConnectError,
    Connection,
    Hijacked,
    Response,
    authority,
    parse_tcp,
    quote,
)
from estiba.oci.json_codec import dumps, loads, scan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
    from types import ModuleType
    from typing import Any, BinaryIO, Protocol

    class Environment(Protocol):
        """What is read of an environment: ``os.environ``, or the command line's own."""

        def get(self, name: str, default: None = None, /) -> str | None: ...

CLIENT_MAX = "1.47"
FALLBACK_VERSION = "1.24"  # what a daemon without an Api-Version header speaks
DEFAULT_HOST = "unix:///run/estiba/estiba.sock"
PATH_STAT_HEADER = "x-docker-container-path-stat"
_PING_HEADERS = ("Api-Version", "OSType", "Docker-Experimental", "Builder-Version",
                 "Swarm", "Cache-Control")
_UPGRADE = {"Connection": "Upgrade", "Upgrade": "tcp"}
# Docker's variables that ask for TLS: DOCKER_TLS_VERIFY, and DOCKER_TLS (no verification)
_TLS_VARIABLES = ("DOCKER_TLS_VERIFY", "DOCKER_TLS")


class DockerError(Exception):
    """The daemon refused: ``status`` the HTTP status, ``message`` its explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{message} (status {status})")
        self.status = status
        self.message = message


def error_for(status: int, body: bytes) -> DockerError:
    try:
        message = loads(body).get("message") or ""
    except (ValueError, AttributeError, UnicodeDecodeError):
        message = body.decode("utf-8", "replace").strip()
    return DockerError(status, message or f"daemon answered {status}")


# --- pure helpers --------------------------------------------------------------------


def _errors() -> ModuleType:
    """``estiba.errors``, loaded when a call is refused or fails: a command that goes
    well never needs it (~0.2 ms of a command line's start)."""
    from estiba import errors

    return errors


def environment_host(environ: Mapping[str, str] | Environment) -> str:
    """The daemon the environment names: ``$ESTIBA_HOST``, else ``$DOCKER_HOST``, else
    estibad's default socket."""
    return environ.get("ESTIBA_HOST") or environ.get("DOCKER_HOST") or DEFAULT_HOST


def address_of(host: str, environ: Mapping[str, str] | Environment | None = None
               ) -> str | tuple[str, int]:
    """Where the daemon of ``host`` listens: a unix socket's path, or the (host, port) of
    a ``tcp://`` (or ``http://``, or scheme-less) address. ``""``: the environment's
    host, then the default. The environment (``environ``, else ``os.environ`` when the
    host comes from it) is also asked whether TLS is wanted: it is refused for a TCP
    host, Estiba's client speaking plain HTTP only."""
    if not host:
        if environ is None:
            import os  # only here: a caller that names its host never pays for it

            environ = os.environ
        host = environment_host(environ)
    scheme, sep, rest = host.partition("://")
    if not sep:
        scheme, rest = "tcp", host  # docker reads an address without a scheme as TCP
    if scheme == "unix":
        if not rest.startswith("/"):
            raise _errors().InvalidArgument(f"host {host!r}: the socket path must be absolute")
        return rest
    if scheme == "https":
        raise _errors().InvalidArgument(f"host {host!r}: TLS (https://) is not supported; "
                                     "use tcp:// (plain HTTP) or unix://")
    if scheme == "ssh":
        raise _errors().InvalidArgument(f"host {host!r}: ssh:// is not supported; use "
                                     "unix:// or tcp://")
    if scheme not in ("tcp", "http"):
        raise _errors().InvalidArgument(f"host {host!r}: unsupported scheme {scheme!r}: "
                                     "expected unix:// or tcp://")
    for name in _TLS_VARIABLES:
        if environ is not None and environ.get(name):
            raise _errors().InvalidArgument(f"host {host!r}: TLS (${name}) is not supported; "
                                         f"unset {name} to speak plain HTTP over tcp://")
    try:
        return parse_tcp(rest)
    except ValueError as err:
        raise _errors().InvalidArgument(f"host {host!r}: {err}") from None


def _version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        raise _errors().InvalidArgument(f"malformed API version {version!r}") from None


def negotiate(server: str | None, ours: str = CLIENT_MAX) -> str:
    """The version to speak: the lower of the daemon's and ours (compared as numbers:
    1.9 < 1.47); the oldest the header's absence implies when it sent none."""
    server = server or FALLBACK_VERSION
    return min(server, ours, key=_version_key)


def _encode(value: Any) -> str:
    if value is True:
        return "1"
    if value is False:
        return "0"
    return quote(str(value))


def query(params: Iterable[tuple[str, Any]]) -> str:
    """``?k=v&...`` of the pairs (empty when none is left): ``None`` and ``""`` values
    are left out, a list value repeats its key, booleans are ``1``/``0``."""
    parts = []
    for key, value in params:
        if value is None or value == "":
            continue
        if isinstance(value, list | tuple):
            parts.extend(f"{key}={_encode(v)}" for v in value)
        else:
            parts.append(f"{key}={_encode(value)}")
    return "?" + "&".join(parts) if parts else ""


def encode_filters(filters: Mapping[str, Any] | None) -> str | None:
    """Docker's ``filters`` parameter: ``{"label": ["a=b"]}`` as JSON (before quoting);
    ``None`` for no filter."""
    if not filters:
        return None
    lists = {k: [v] if isinstance(v, str) else list(v) for k, v in filters.items()}
    return "".join(_compact(lists, 0))


# JSON without the spaces of json_codec's separators: a query stays short
_compact = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",",
                              False, False, True)


def decode_path_stat(header: str) -> dict:
    """The ``X-Docker-Container-Path-Stat`` header: base64 of a JSON object (name,
    size, mode, mtime, linkTarget)."""
    try:
        import binascii

        return loads(binascii.a2b_base64(header.encode("ascii")))
    except (ValueError, UnicodeError) as err:  # binascii.Error is a ValueError
        raise DockerError(200, f"malformed path stat header {header[:60]!r}") from err


def _image_path(name: str) -> str:
    # as the docker CLI sends it: a name's slashes, colon and at sign raw in the path
    return quote(name).replace("%2F", "/").replace("%3A", ":").replace("%40", "@")


_SPACE = " \t\r\n"


class JSONStream:
    """JSON values out of bytes as they arrive. Values are looked for up to the last
    newline received (Docker ends each with one, and a newline is never inside a JSON
    string: a cut there is a UTF-8 boundary too); several on one line are split apart;
    a value spread over lines waits for its end."""

    def __init__(self) -> None:
        self._text = ""
        self._tail = b""

    def feed(self, data: bytes) -> list[Any]:
        """The values completed by ``data``."""
        data = self._tail + data
        cut = data.rfind(b"\n")
        if cut < 0:
            self._tail = data
            return []
        self._tail = data[cut + 1:]
        try:
            self._text += data[:cut + 1].decode("utf-8")
        except UnicodeDecodeError as err:
            raise DockerError(200, f"JSON stream not UTF-8: {err}") from err
        return self._values()

    def end(self) -> list[Any]:
        """The last values, at the end of the stream; ``DockerError`` if it stops in the
        middle of one."""
        values = self.feed(b"\n")
        if self._text.strip(_SPACE):
            raise DockerError(200, f"JSON stream cut off: {self._text[:80]!r}")
        return values

    def _values(self) -> list[Any]:
        text, pos, out = self._text, 0, []
        while True:
            pos = len(text) - len(text[pos:].lstrip(_SPACE))
            if pos >= len(text):
                break
            try:
                value, pos_after = scan(text, pos)
            except Exception:  # noqa: BLE001 - incomplete (or bad: end() says so)
                break
            out.append(value)
            pos = pos_after
        self._text = text[pos:]
        return out


def _progress(values: Generator[Any, None, None], status: int) -> Iterator[dict]:
    for value in values:
        if isinstance(value, dict) and value.get("error"):
            values.close()  # its connection now, not when collected
            raise DockerError(status, str(value["error"]))
        yield value


# --- the client ----------------------------------------------------------------------


class APIClient:
    def __init__(self, host: str = "", *, version: str = "",
                 timeout: float | None = None, ping_first: bool = True,
                 environ: Mapping[str, str] | Environment | None = None) -> None:
        """``host``: see ``address_of``, which reads ``environ`` (the TLS variables
        too: a command line passes its environment even when it names its host).
        ``version``: the API version to speak, else negotiated: by a ping before the
        first request (``ping_first``), or — a round trip less, for a command line —
        by sending the first request without a version (the daemon answers in its
        own) and reading the version from the answer's ``Api-Version`` header."""
        self.address = address_of(host, environ)
        self.host = authority(self.address)  # as errors name it: tcp://127.0.0.1:2375
        self.timeout = timeout
        self._version = version
        self._ping_first = ping_first
        self.conn = Connection(self.address, timeout)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> APIClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def api_version(self) -> str:
        """The version spoken, negotiated with the daemon if none was given."""
        if not self._version:
            self._version = negotiate(self.ping().get("Api-Version"))
        return self._version

    # --- plumbing --------------------------------------------------------------------

    def _send(self, conn: Connection, method: str, path: str, *, body: Any = None,
              data: bytes | BinaryIO | None = None, content_type: str = "",
              headers: dict[str, str] | None = None, versioned: bool = True,
              ok: tuple[int, ...] = ()) -> Response:
        learn = versioned and not self._version and not self._ping_first
        target = f"/v{self.api_version}{path}" if versioned and not learn else path
        sent = dict(headers or {})
        if body is not None:
            data = dumps(body).encode()
            sent["Content-Type"] = "application/json"
        elif content_type:
            sent["Content-Type"] = content_type
        try:
            response = conn.request(method, target, sent, data)
        except ConnectError as err:
            reason = (err.strerror or str(err)).lower()
            raise _errors().Unavailable(f"connect to {self.host}: {reason}; is the daemon "
                                     "running?") from err
        except OSError as err:
            raise _errors().Unavailable(f"Docker API at {self.host}: {err}") from err
        if learn and "api-version" in response.headers:
            self._version = negotiate(response.headers["api-version"])
        if response.status >= 300 and response.status not in ok:
            raise error_for(response.status, response.read())
        return response

    def _call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        data = self._send(self.conn, method, path, body=body, **kw).read()
        return loads(data) if data else None

    def _open_stream(self, method: str, path: str, **kw: Any) -> tuple[Connection, Response]:
        """A request on a connection of its own (see the module's docstring)."""
        if self._ping_first:
            self.api_version  # noqa: B018 - negotiate on the shared connection first
        conn = Connection(self.address, self.timeout)
        try:
            return conn, self._send(conn, method, path, **kw)
        except BaseException:
            conn.close()
            raise

    def _bytes(self, method: str, path: str, **kw: Any) -> Iterator[bytes]:
        conn, response = self._open_stream(method, path, **kw)
        return _chunks(conn, response)

    def _json_stream(self, method: str, path: str, *, progress: bool = False,
                     **kw: Any) -> Iterator[Any]:
        conn, response = self._open_stream(method, path, **kw)
        values = _json_values(conn, response)
        return _progress(values, response.status) if progress else values

    def _hijack(self, path: str, body: Any = None) -> Hijacked:
        response = self._send(self.conn, "POST", path, body=body, headers=_UPGRADE)
        if response.status not in (101, 200):
            response.close()
            raise DockerError(response.status,
                              f"expected the connection upgraded, got {response.status}")
        return self.conn.detach()

    # --- system ----------------------------------------------------------------------

    def ping(self) -> dict[str, str]:
        """The headers of ``HEAD /_ping`` that say what the daemon is (Api-Version,
        OSType, Docker-Experimental, Builder-Version, Swarm), by their canonical names."""
        response = self._send(self.conn, "HEAD", "/_ping", versioned=False, ok=(404, 405))
        response.read()
        if response.status in (404, 405):  # a daemon that answers GET only
            response = self._send(self.conn, "GET", "/_ping", versioned=False)
            response.read()
        return {name: response.headers[name.lower()] for name in _PING_HEADERS
                if name.lower() in response.headers}

    def version(self) -> dict:
        return self._call("GET", "/version")

    def info(self) -> dict:
        return self._call("GET", "/info")

    def df(self) -> dict:
        return self._call("GET", "/system/df")

    def events(self, since: str | float | None = None, until: str | float | None = None,
               filters: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """The daemon's events as they happen (without ``until``: until closed)."""
        q = query([("since", since), ("until", until), ("filters", encode_filters(filters))])
        return self._json_stream("GET", f"/events{q}")

    # --- containers ------------------------------------------------------------------

    def containers(self, all: bool = False, filters: Mapping[str, Any] | None = None,
                   limit: int | None = None, size: bool = False) -> list[dict]:
        q = query([("all", all), ("limit", limit), ("size", size),
                   ("filters", encode_filters(filters))])
        return self._call("GET", f"/containers/json{q}")

    def create_container(self, config: dict, name: str = "", platform: str = "") -> dict:
        """``{"Id", "Warnings"}``; ``config`` is Docker's Config with its HostConfig and
        NetworkingConfig."""
        q = query([("name", name), ("platform", platform)])
        return self._call("POST", f"/containers/create{q}", config)

    def inspect_container(self, id: str) -> dict:
        return self._call("GET", f"/containers/{quote(id)}/json")

    def start(self, id: str) -> bool:
        """True: started by this call; False: it was running already (304)."""
        return self._state_call("start", id, "")

    def stop(self, id: str, timeout: int | None = None, signal: str = "") -> bool:
        """True: stopped by this call; False: it was stopped already (304)."""
        return self._state_call("stop", id, query([("t", timeout), ("signal", signal)]))

    def _state_call(self, verb: str, id: str, q: str) -> bool:
        response = self._send(self.conn, "POST", f"/containers/{quote(id)}/{verb}{q}",
                              ok=(304,))
        response.read()
        return response.status != 304

    def restart(self, id: str, timeout: int | None = None, signal: str = "") -> None:
        q = query([("t", timeout), ("signal", signal)])
        self._call("POST", f"/containers/{quote(id)}/restart{q}")

    def kill(self, id: str, signal: str | int = "") -> None:
        self._call("POST", f"/containers/{quote(id)}/kill{query([('signal', signal)])}")

    def pause(self, id: str) -> None:
        self._call("POST", f"/containers/{quote(id)}/pause")

    def unpause(self, id: str) -> None:
        self._call("POST", f"/containers/{quote(id)}/unpause")

    def wait(self, id: str, condition: str = "") -> dict:
        """``{"StatusCode", "Error"}`` once the condition (not-running, next-exit,
        removed) is met."""
        return self._call("POST", f"/containers/{quote(id)}/wait"
                          f"{query([('condition', condition)])}")

    def remove_container(self, id: str, force: bool = False, volumes: bool = False) -> None:
        self._call("DELETE", f"/containers/{quote(id)}"
                   f"{query([('force', force), ('v', volumes)])}")

    def rename(self, id: str, name: str) -> None:
        self._call("POST", f"/containers/{quote(id)}/rename{query([('name', name)])}")

    def update_container(self, id: str, body: dict) -> dict:
        return self._call("POST", f"/containers/{quote(id)}/update", body)

    def top(self, id: str, ps_args: str = "") -> dict:
        return self._call("GET", f"/containers/{quote(id)}/top"
                          f"{query([('ps_args', ps_args)])}")

    def stats(self, id: str, stream: bool = False) -> dict | Iterator[dict]:
        """One sample, or (``stream``) a sample about every second until closed."""
        path = f"/containers/{quote(id)}/stats{query([('stream', stream)])}"
        if stream:
            return self._json_stream("GET", path)
        return self._call("GET", path)

    def logs(self, id: str, *, stdout: bool = True, stderr: bool = True,
             follow: bool = False, tail: int | str = "all",
             since: str | float | None = None, until: str | float | None = None,
             timestamps: bool = False, tty: bool | None = None, details: bool = False
             ) -> Iterator[tuple[int, bytes]]:
        """(stream, bytes) pieces: 1 stdout, 2 stderr, demultiplexed; a container with
        a terminal has one raw stream, given as 1. ``tty``: whether it has one; None
        asks the reply's Content-Type (API 1.42+), then the container. ``details``: each
        line after the log's attributes (``k=v,...`` and a space)."""
        # details only when asked, as docker's client sends it
        q = query([("stdout", stdout), ("stderr", stderr), ("follow", follow),
                   ("tail", tail), ("since", since), ("until", until),
                   ("timestamps", timestamps), ("details", details or None)])
        conn, response = self._open_stream("GET", f"/containers/{quote(id)}/logs{q}")
        if tty is None:
            kind = response.headers.get("content-type", "")
            if "multiplexed-stream" in kind:
                tty = False
            elif "raw-stream" in kind:
                tty = True
            else:
                tty = bool(self.inspect_container(id)["Config"].get("Tty"))
        return _raw_pieces(conn, response) if tty else _frames(conn, response)

    def attach(self, id: str, *, stdin: bool = False, stdout: bool = True,
               stderr: bool = True, stream: bool = True, logs: bool = False,
               detach_keys: str = "") -> Hijacked:
        """The container's stdio as the upgraded connection (see the module docstring);
        ``close_write`` ends its stdin."""
        q = query([("stream", stream), ("logs", logs), ("stdin", stdin),
                   ("stdout", stdout), ("stderr", stderr), ("detachKeys", detach_keys)])
        return self._hijack(f"/containers/{quote(id)}/attach{q}")

    def resize(self, id: str, h: int, w: int) -> None:
        self._call("POST", f"/containers/{quote(id)}/resize{query([('h', h), ('w', w)])}")

    def export(self, id: str) -> Iterator[bytes]:
        """The container's filesystem as a tar stream."""
        return self._bytes("GET", f"/containers/{quote(id)}/export")

    def get_archive(self, id: str, path: str) -> tuple[dict, Iterator[bytes]]:
        """(the path's stat, a tar stream of it)."""
        conn, response = self._open_stream(
            "GET", f"/containers/{quote(id)}/archive{query([('path', path)])}")
        stat = decode_path_stat(response.headers.get(PATH_STAT_HEADER, ""))
        return stat, _chunks(conn, response)

    def stat_archive(self, id: str, path: str) -> dict:
        """The path's stat alone (``HEAD`` of the archive)."""
        response = self._send(self.conn, "HEAD",
                              f"/containers/{quote(id)}/archive{query([('path', path)])}")
        response.read()
        return decode_path_stat(response.headers.get(PATH_STAT_HEADER, ""))

    def put_archive(self, id: str, path: str, data: bytes | BinaryIO, *,
                    no_overwrite_dir_non_dir: bool = False, copy_uid_gid: bool = False
                    ) -> None:
        """Extract the tar ``data`` into the directory ``path`` of the container."""
        q = query([("path", path),
                   ("noOverwriteDirNonDir", no_overwrite_dir_non_dir or None),
                   ("copyUIDGID", copy_uid_gid or None)])
        self._call("PUT", f"/containers/{quote(id)}/archive{q}", data=data,
                   content_type="application/x-tar")

    def changes(self, id: str) -> list[dict]:
        # a container without changes answers null
        return self._call("GET", f"/containers/{quote(id)}/changes") or []

    def commit(self, id: str, repo: str = "", tag: str = "", comment: str = "",
               author: str = "", changes: Sequence[str] = (), pause: bool = True) -> dict:
        """``{"Id"}`` of the new image; ``changes``: Dockerfile instructions to apply."""
        q = query([("container", id), ("repo", repo), ("tag", tag), ("comment", comment),
                   ("author", author), ("pause", pause), ("changes", list(changes))])
        return self._call("POST", f"/commit{q}")

    def prune_containers(self, filters: Mapping[str, Any] | None = None) -> dict:
        return self._call("POST", f"/containers/prune"
                          f"{query([('filters', encode_filters(filters))])}")

    # --- exec ------------------------------------------------------------------------

    def exec_create(self, id: str, cmd: Sequence[str], *, tty: bool = False,
                    stdin: bool = False, stdout: bool = True, stderr: bool = True,
                    env: Sequence[str] = (), workdir: str = "", user: str = "",
                    privileged: bool = False,
                    console_size: tuple[int, int] | None = None,
                    detach_keys: str = "") -> str:
        """The new exec's id. ``console_size``: (rows, columns) of its terminal from
        its start; ``detach_keys``: the keys that detach from it (the daemon's default
        when "")."""
        body: dict[str, Any] = {
            "Cmd": list(cmd), "Tty": tty, "AttachStdin": stdin, "AttachStdout": stdout,
            "AttachStderr": stderr, "Privileged": privileged}
        if env:
            body["Env"] = list(env)
        if workdir:
            body["WorkingDir"] = workdir
        if user:
            body["User"] = user
        if console_size is not None:
            body["ConsoleSize"] = list(console_size)
        if detach_keys:
            body["DetachKeys"] = detach_keys
        return self._call("POST", f"/containers/{quote(id)}/exec", body)["Id"]

    def exec_start(self, exec_id: str, *, tty: bool = False, detach: bool = False
                   ) -> Hijacked | None:
        """The exec's stdio as the upgraded connection; None when ``detach``."""
        body = {"Detach": detach, "Tty": tty}
        path = f"/exec/{quote(exec_id)}/start"
        if detach:
            self._call("POST", path, body)
            return None
        return self._hijack(path, body)

    def exec_inspect(self, exec_id: str) -> dict:
        return self._call("GET", f"/exec/{quote(exec_id)}/json")

    def exec_resize(self, exec_id: str, h: int, w: int) -> None:
        self._call("POST", f"/exec/{quote(exec_id)}/resize{query([('h', h), ('w', w)])}")

    # --- images ----------------------------------------------------------------------

    def images(self, all: bool = False, filters: Mapping[str, Any] | None = None
               ) -> list[dict]:
        q = query([("all", all), ("filters", encode_filters(filters))])
        return self._call("GET", f"/images/json{q}")

    def inspect_image(self, name: str) -> dict:
        return self._call("GET", f"/images/{_image_path(name)}/json")

    def history(self, name: str) -> list[dict]:
        return self._call("GET", f"/images/{_image_path(name)}/history")

    def tag(self, name: str, repo: str, tag: str = "") -> None:
        q = query([("repo", repo), ("tag", tag)])
        self._call("POST", f"/images/{_image_path(name)}/tag{q}")

    def remove_image(self, name: str, force: bool = False, noprune: bool = False
                     ) -> list[dict]:
        """What was done: ``{"Untagged": ref}`` and ``{"Deleted": id}`` items."""
        q = query([("force", force), ("noprune", noprune)])
        return self._call("DELETE", f"/images/{_image_path(name)}{q}")

    def import_image(self, data: bytes | BinaryIO, repo: str = "", tag: str = "",
                     changes: Sequence[str] = ()) -> Iterator[dict]:
        """A filesystem tar as an image; its progress objects (the last holds the id)."""
        q = query([("fromSrc", "-"), ("repo", repo), ("tag", tag),
                   ("changes", list(changes))])
        return self._json_stream("POST", f"/images/create{q}", data=data,
                                 content_type="application/x-tar", progress=True)

    def save(self, names: Sequence[str]) -> Iterator[bytes]:
        """The images as one ``docker save`` tar stream."""
        return self._bytes("GET", f"/images/get{query([('names', list(names))])}")

    def load(self, data: bytes | BinaryIO) -> Iterator[dict]:
        """Load a ``docker save`` tar; its progress objects (``{"stream": "Loaded ..."}``)."""
        return self._json_stream("POST", "/images/load?quiet=0", data=data,
                                 content_type="application/x-tar", progress=True)

    def prune_images(self, filters: Mapping[str, Any] | None = None) -> dict:
        return self._call("POST", f"/images/prune"
                          f"{query([('filters', encode_filters(filters))])}")

    def pull(self, name: str, tag: str = "", platform: str = "") -> Iterator[dict]:
        """The pull's progress objects (``tag`` empty: the one in ``name``, if any)."""
        q = query([("fromImage", name), ("tag", tag), ("platform", platform)])
        return self._json_stream("POST", f"/images/create{q}", progress=True)

    # --- networks --------------------------------------------------------------------

    def networks(self, filters: Mapping[str, Any] | None = None) -> list[dict]:
        return self._call("GET", f"/networks{query([('filters', encode_filters(filters))])}")

    def create_network(self, body: dict) -> dict:
        """``{"Id", "Warning"}``; ``body``: Name, Driver, Internal, IPAM, Labels ..."""
        return self._call("POST", "/networks/create", body)

    def inspect_network(self, id: str) -> dict:
        return self._call("GET", f"/networks/{quote(id)}")

    def remove_network(self, id: str) -> None:
        self._call("DELETE", f"/networks/{quote(id)}")

    def connect(self, network: str, container: str, endpoint_config: dict | None = None
                ) -> None:
        body: dict[str, Any] = {"Container": container}
        if endpoint_config is not None:
            body["EndpointConfig"] = endpoint_config
        self._call("POST", f"/networks/{quote(network)}/connect", body)

    def disconnect(self, network: str, container: str, force: bool = False) -> None:
        self._call("POST", f"/networks/{quote(network)}/disconnect",
                   {"Container": container, "Force": force})

    def prune_networks(self, filters: Mapping[str, Any] | None = None) -> dict:
        return self._call("POST", f"/networks/prune"
                          f"{query([('filters', encode_filters(filters))])}")

    # --- volumes ---------------------------------------------------------------------

    def volumes(self, filters: Mapping[str, Any] | None = None) -> dict:
        """``{"Volumes": [...], "Warnings": [...]}``, as the daemon answers."""
        return self._call("GET", f"/volumes{query([('filters', encode_filters(filters))])}")

    def create_volume(self, body: dict) -> dict:
        """The volume; ``body``: Name, Driver, DriverOpts, Labels."""
        return self._call("POST", "/volumes/create", body)

    def inspect_volume(self, name: str) -> dict:
        return self._call("GET", f"/volumes/{quote(name)}")

    def remove_volume(self, name: str, force: bool = False) -> None:
        self._call("DELETE", f"/volumes/{quote(name)}{query([('force', force)])}")

    def prune_volumes(self, filters: Mapping[str, Any] | None = None) -> dict:
        return self._call("POST", f"/volumes/prune"
                          f"{query([('filters', encode_filters(filters))])}")

    # --- build cache -----------------------------------------------------------------

    def prune_build_cache(self, all: bool = False,
                          filters: Mapping[str, Any] | None = None) -> dict:
        """``{"CachesDeleted": [...], "SpaceReclaimed": n}``."""
        q = query([("all", all), ("filters", encode_filters(filters))])
        return self._call("POST", f"/build/prune{q}")

    def import_from(self, source: str, data: bytes | BinaryIO | None = None, *,
                    repo: str = "", tag: str = "", message: str = "",
                    changes: Sequence[str] = (), platform: str = "") -> Iterator[dict]:
        """``POST /images/create?fromSrc=``: ``source`` ``-`` sends ``data`` (a
        filesystem tar), a URL has the daemon fetch it; the raw progress objects (an
        ``{"error": ...}`` among them is the caller's to report)."""
        q = query([("fromSrc", source), ("repo", repo), ("tag", tag),
                   ("message", message), ("platform", platform),
                   ("changes", list(changes))])
        if data is None:
            return self._json_stream("POST", f"/images/create{q}")
        return self._json_stream("POST", f"/images/create{q}", data=data,
                                 content_type="application/x-tar")

    # --- estibad's own -----------------------------------------------------------------

    def explain(self, id: str) -> list[dict]:
        """What the container's verbs did below the Docker API: steps ``{"at",
        "layer", "action", "details"}`` (estibad only; another daemon answers 404)."""
        return self._call("GET", f"/containers/{quote(id)}/explain")

    # --- attached runs ---------------------------------------------------------------

    def wait_begun(self, id: str, condition: str = "") -> Callable[[], dict]:
        """``wait`` in two steps: returns once the daemon has answered the head (it
        waits from then on, so a ``start`` sent next cannot exit unseen); calling
        the result reads ``{"StatusCode", "Error"}``, blocking until the condition."""
        conn, response = self._open_stream(
            "POST", f"/containers/{quote(id)}/wait{query([('condition', condition)])}")

        def result() -> dict:
            try:
                return loads(response.read())
            finally:
                conn.close()

        return result


# --- the streams' readers (each owns its connection) ---------------------------------


def _chunks(conn: Connection, response: Response) -> Iterator[bytes]:
    try:
        yield from response.chunks()
    finally:
        conn.close()


def _json_values(conn: Connection, response: Response) -> Generator[Any, None, None]:
    decoder = JSONStream()
    for chunk in _chunks(conn, response):
        yield from decoder.feed(chunk)
    yield from decoder.end()


def _frames(conn: Connection, response: Response) -> Iterator[tuple[int, bytes]]:
    from estiba.client.streams import Demux

    demux = Demux()
    for chunk in _chunks(conn, response):
        yield from demux.feed(chunk)
    if demux.partial:
        raise DockerError(response.status, "log stream cut off in the middle of a frame")


def _raw_pieces(conn: Connection, response: Response) -> Iterator[tuple[int, bytes]]:
    for chunk in _chunks(conn, response):
        yield 1, chunk

