"""The local terminal of an attached command (``run -it``, ``start -ai``, ``attach``,
``exec -it``), as docker's CLI handles it.

- Raw mode: with a terminal on both sides every key (^C and ^D too) goes to the
  container's pty, which echoes and edits lines; the mode is restored on the way out
  whatever happens (``RawMode``).
- Size: the container's pty gets ours once started and again on each SIGWINCH
  (``WindowSize``).
- Detach keys: docker's ``--detach-keys`` grammar (``ctrl-p,ctrl-q`` by default: a
  comma-separated list of ``ctrl-@``..``ctrl-_``, ``DEL`` or one character each;
  ``detach_sequence``) and moby/term's escape proxy (``EscapeProxy``): a key of the
  sequence is held back while the sequence is being typed, one key per read, and the
  whole sequence detaches instead of reaching the container.

- Signals (``--sig-proxy``, without a terminal): what the CLI receives goes on to the
  container through ``kill`` (``SignalProxy``), but for SIGCHLD and SIGPIPE, as
  docker's CLI forwards all it can catch.

The parsing and the proxy are pure; ``RawMode``, ``WindowSize`` and ``SignalProxy``
touch the terminal and signals.
"""

from __future__ import annotations

# posix rather than os: os costs ~1 ms to import without site (-S)
import posix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_DETACH_KEYS = b"\x10\x11"  # ctrl-p, ctrl-q

# the names moby/term knows, in ASCII order: ctrl-@ is 0, ctrl-a 1 ... ctrl-_ 31
_CONTROLS = ("ctrl-@", *(f"ctrl-{chr(c)}" for c in range(ord("a"), ord("z") + 1)),
             "ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_")


def detach_sequence(spec: str) -> bytes:
    """The bytes of a ``--detach-keys`` value (ValueError naming the key it does not
    know, in moby/term's words)."""
    codes = bytearray()
    for key in spec.split(","):
        if len(key) == 1:
            codes += key.encode("utf-8")[:1]
        elif key in _CONTROLS:
            codes.append(_CONTROLS.index(key))
        elif key == "DEL":
            codes.append(127)
        else:
            raise ValueError(f"Unknown character: '{key}'")
    return bytes(codes)


def detach_keys_or_default(spec: str) -> bytes:
    """What docker's CLI watches for: the given keys, the default when none is given
    or when they do not parse (docker warns and falls back too)."""
    if not spec:
        return DEFAULT_DETACH_KEYS
    try:
        return detach_sequence(spec)
    except ValueError:
        return DEFAULT_DETACH_KEYS


class Detached(Exception):
    """The detach keys were typed."""

    def __init__(self) -> None:
        super().__init__("read escape sequence")


class EscapeProxy:
    """moby/term's escape proxy over the reads of the input: ``feed(read)`` is what to
    send on; Detached once the whole sequence came. Only a read of exactly one byte
    can advance the sequence (a person types one key at a time; a paste is data);
    a held-back prefix is sent on before whatever breaks it."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self._held = 0  # how many keys of the sequence have been typed and held back

    def feed(self, data: bytes) -> bytes:
        if not self.keys:
            return data
        held = self.keys[:self._held]
        if len(data) != 1 or data[0] != self.keys[self._held]:
            self._held = 0
            return held + data
        if self._held == len(self.keys) - 1:
            self._held = 0
            raise Detached()
        self._held += 1
        return b""


def terminal_size(fd: int | None) -> tuple[int, int] | None:
    """(rows, columns) of the terminal ``fd``; None when it is not one."""
    if fd is None or not posix.isatty(fd):
        return None
    try:
        size = posix.get_terminal_size(fd)
    except OSError:
        return None
    return size.lines, size.columns


def stream_size(stream: object) -> tuple[int, int] | None:
    """(rows, columns) of the terminal ``stream`` writes to, which docker's CLI sends as
    a container's or an exec's ConsoleSize (its pty has the size from the start, not
    after a resize); None when ``stream`` is no terminal (or no file: a test's buffer)."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return None
    return terminal_size(fd)


# what ends us while the terminal is raw: the block unwinds (restoring it) and we exit
# as the signal's default action would have us seen (128 + its number)
_ENDING = ("SIGHUP", "SIGTERM", "SIGQUIT")


def _exit_on(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


class RawMode:
    """The terminal ``fd`` (None or not a terminal: nothing) in raw mode for the
    ``with`` block, restored when it ends, errors and SIGHUP, SIGTERM and SIGQUIT
    included. ``restore`` may be called earlier (once the output ends, so that what
    follows prints as usual)."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd
        self._saved: list | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> RawMode:
        if self.fd is not None and posix.isatty(self.fd):
            import _signal
            import termios
            import tty

            self._saved = termios.tcgetattr(self.fd)
            for name in _ENDING:
                number = getattr(_signal, name)
                self._previous[number] = _signal.signal(number, _exit_on)
            tty.setraw(self.fd, termios.TCSANOW)
        return self

    def restore(self) -> None:
        if self._saved is not None:
            import termios

            saved, self._saved = self._saved, None
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, saved)
            except termios.error:
                pass  # the terminal went away (its session ended)

    def __exit__(self, *exc: object) -> None:
        self.restore()
        if self._previous:
            import _signal

            for number, previous in self._previous.items():
                _signal.signal(number, previous)
            self._previous = {}


class WindowSize:
    """Sends the size of the terminal ``fd`` through ``send(rows, columns)`` when the
    block starts and on each SIGWINCH until it ends; nothing when ``fd`` is not a
    terminal. A failing ``send`` is ignored, as docker's CLI ignores it (the
    container may be gone; the relay ends on its own)."""

    def __init__(self, fd: int | None, send: Callable[[int, int], object]) -> None:
        self.fd = fd
        self.send = send
        self._previous: object = None

    def update(self, *_: object) -> None:
        size = terminal_size(self.fd)
        if size is None or size == (0, 0):
            return
        try:
            self.send(*size)
        except Exception:  # noqa: BLE001 - any daemon error: docker only logs it
            pass

    def __enter__(self) -> WindowSize:
        if terminal_size(self.fd) is not None:
            import _signal  # signal's import costs enum's

            self._previous = _signal.signal(_signal.SIGWINCH, self.update)
            self.update()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            import _signal

            _signal.signal(_signal.SIGWINCH, self._previous)
            self._previous = None


# the signals docker's CLI forwards: all it receives but SIGCHLD and SIGPIPE (those
# the kernel lets a process catch), by the names the kill endpoint takes
FORWARDED = ("HUP", "INT", "QUIT", "USR1", "USR2", "ALRM", "TERM", "CONT", "TSTP",
             "TTIN", "TTOU", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR",
             "SYS")


class SignalProxy:
    """For the ``with`` block, the signals of ``FORWARDED`` are not acted on here but
    passed to ``send(name)`` (a failing ``send`` is ignored: docker only logs it);
    ``send`` None: nothing is forwarded (no ``--sig-proxy``, or a terminal)."""

    def __init__(self, send: Callable[[str], object] | None) -> None:
        self.send = send
        self._previous: dict[int, object] = {}

    def _forward(self, signum: int, _frame: object) -> None:
        name = self._names.get(signum)
        if name is None:
            return
        try:
            self.send(name)  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - the container may be gone
            pass

    def __enter__(self) -> SignalProxy:
        self._names: dict[int, str] = {}
        if self.send is None:
            return self
        import _signal

        for name in FORWARDED:
            number = getattr(_signal, f"SIG{name}", None)
            if number is None:
                continue
            self._names[number] = name
            self._previous[number] = _signal.signal(number, self._forward)
        return self

    def __exit__(self, *exc: object) -> None:
        import _signal

        for number, previous in self._previous.items():
            _signal.signal(number, previous)
        self._previous = {}
