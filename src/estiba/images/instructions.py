"""Dockerfile instructions that change an image's container config — the ``--change``
lines of ``docker import`` and ``docker commit``, and the metadata steps of a Dockerfile
build: ``CMD``, ``ENTRYPOINT``, ``ENV``, ``EXPOSE``, ``LABEL``, ``ONBUILD``,
``STOPSIGNAL``, ``USER``, ``VOLUME``, ``WORKDIR``.

Pure: text in, records out; a config dict in, a new config dict out (the ``config``
object of an image configuration, with Docker's keys ``Cmd``, ``Env``, ``ExposedPorts``
...). The input is never changed.

Semantics follow Docker's Dockerfile reference and moby's ``BuildFromConfig`` (the
function behind ``docker import --change``):

- The change lines are joined with newlines and read as a Dockerfile fragment: ``#``
  comment lines and blank lines are skipped, a line ending in ``\\`` continues on the
  next one. Keywords are case-insensitive. A keyword outside the list above is refused
  with Docker's message, ``<keyword> is not a valid change command``. (moby also takes
  ``HEALTHCHECK`` there; it is not supported here yet: Unimplemented.)
- ``CMD``/``ENTRYPOINT``: a JSON array of strings is the exec form; anything else is the
  shell form, run by the config's ``Shell`` (default ``["/bin/sh", "-c"]``). As in
  Docker, text that is not JSON is the shell form even when it starts with ``[`` (``[ -f
  x ] && y`` is a shell command); JSON that is not an array of strings (``["a", 1]``) is
  refused here, where Docker would hand it to the shell. ``ENTRYPOINT`` clears ``Cmd``
  unless a ``CMD`` came earlier among the same instructions (moby's ``cmdSet``).
- ``ENV``/``LABEL``: ``k=v k2="v 2"`` pairs, or the legacy ``ENV k v w`` (value ``v
  w``); an ``Env`` entry with the same key is replaced in place.
- ``ENV``, ``LABEL``, ``EXPOSE``, ``VOLUME``, ``USER``, ``WORKDIR`` and ``STOPSIGNAL``
  are expanded as the builder does: quotes removed, ``\\`` escapes, ``$VAR``,
  ``${VAR}``, ``${VAR:-default}``, ``${VAR:+alt}``, ``${VAR:?message}`` (and the forms
  without colon) from the ``Env`` in force before the instruction. ``CMD``,
  ``ENTRYPOINT`` and ``ONBUILD`` are kept as written.
- ``EXPOSE 80 443/udp 8000-8001``: ``ExposedPorts`` keys ``80/tcp``, ``443/udp``,
  ``8000/tcp``, ``8001/tcp``; a ``host:container`` mapping exposes the container port.
- ``VOLUME``: a JSON array or a space-separated list; ``Volumes`` keys.
- ``WORKDIR``: a relative path is joined to the previous ``WorkingDir`` (from ``/``).
- ``ONBUILD <instruction>`` appends the instruction's text to ``OnBuild``.

Errors are InvalidArgument naming the instruction as written.
"""

from __future__ import annotations

import copy
import json
import posixpath
import re

from estiba.errors import InvalidArgument, Unimplemented
from estiba.oci.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

# What docker import / docker commit accept in --change (moby builder/dockerfile
# validCommitCommands, less healthcheck).
CHANGE_KEYWORDS = frozenset({
    "cmd", "entrypoint", "env", "expose", "label", "onbuild", "stopsignal", "user",
    "volume", "workdir",
})
# Instructions that are Docker's but not applied by this module (yet).
_UNSUPPORTED = frozenset({"healthcheck"})
DEFAULT_SHELL = ("/bin/sh", "-c")
_ESCAPE = "\\"
_CONTINUATION = re.compile(r"\\[ \t]*$")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROTOCOLS = ("tcp", "udp", "sctp")

# Linux signal names, without SIG (moby pkg/signal SignalMap for linux): the image's
# platform, not the host's, decides, so not taken from Python's signal module.
_SIGNAL_NAMES = frozenset({
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT",
    "KILL", "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM",
    "TRAP", "TSTP", "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU",
    "XFSZ", "RTMIN", "RTMAX",
    *(f"RTMIN+{n}" for n in range(1, 16)),
    *(f"RTMAX-{n}" for n in range(1, 15)),
})


class Instruction(Record):
    """One logical line: ``keyword`` in lower case, ``args`` the text after it (line
    continuations joined), ``original`` the line as written, ``line`` its first line
    number (from 1)."""

    keyword: str
    args: str
    original: str
    line: int = 0


# --- parsing -----------------------------------------------------------------------------


def parse(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile fragment: comment and blank lines skipped, a
    trailing ``\\`` continuing a line (comment lines inside a continuation are skipped,
    as Docker does)."""
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if not pending and not stripped:
            continue
        if stripped.startswith("#"):
            continue
        if not pending:
            start = number
        match = _CONTINUATION.search(line)
        if match:
            pending.append(line[: match.start()])
            continue
        pending.append(line)
        out.append(_instruction("".join(pending), start))
        pending = []
    if pending and "".join(pending).strip():
        out.append(_instruction("".join(pending), start))
    return out


def _instruction(text: str, line: int) -> Instruction:
    original = text.strip()
    keyword, *rest = original.split(None, 1)
    args = rest[0].strip() if rest else ""
    return Instruction(keyword=keyword.lower(), args=args, original=original, line=line)


def parse_changes(changes: Iterable[str]) -> list[Instruction]:
    """The ``--change`` lines of ``docker import``/``docker commit``, read as Docker
    reads them (joined with newlines), each keyword checked against CHANGE_KEYWORDS."""
    instructions = parse("\n".join(changes))
    for ins in instructions:
        if ins.keyword in _UNSUPPORTED:
            raise Unimplemented(f"change {ins.original!r}: {ins.keyword} is not supported")
        if ins.keyword not in CHANGE_KEYWORDS:
            written = ins.original.split(None, 1)[0]
            raise InvalidArgument(f"{written} is not a valid change command")
    return instructions


# --- applying ----------------------------------------------------------------------------


def apply(config: Mapping[str, object] | None,
          instructions: Iterable[Instruction]) -> dict[str, object]:
    """A new config: ``config`` (a container config dict, Docker's keys; None is empty)
    with ``instructions`` applied in order. ``config`` is not changed."""
    state = _State(copy.deepcopy(dict(config or {})))
    for ins in instructions:
        handler = _HANDLERS.get(ins.keyword)
        if handler is None:
            if ins.keyword in _UNSUPPORTED:
                raise Unimplemented(f"instruction {ins.original!r}: not supported")
            raise InvalidArgument(f"instruction {ins.original!r}: unknown instruction")
        if not ins.args:
            raise InvalidArgument(
                f"instruction {ins.original!r}: {ins.keyword.upper()} requires at least one "
                "argument")
        handler(state, ins)
    return state.config


def apply_changes(config: Mapping[str, object] | None,
                  changes: Iterable[str]) -> dict[str, object]:
    """``docker import --change``: ``config`` with the change lines applied."""
    return apply(config, parse_changes(changes))


class _State:
    def __init__(self, config: dict[str, object]) -> None:
        self.config = config
        self.cmd_set = False  # a CMD among these instructions: ENTRYPOINT keeps it

    def env(self) -> list[str]:
        value = self.config.get("Env")
        return list(value) if isinstance(value, list) else []

    def expand(self, ins: Instruction, word: str) -> str:
        try:
            return expand(word, self.env())
        except InvalidArgument as err:
            raise InvalidArgument(f"instruction {ins.original!r}: {err}") from None


def _cmd_line(state: _State, ins: Instruction) -> list[str]:
    argv = _json_strings(ins)
    if argv is not None:
        return argv
    shell = state.config.get("Shell")
    prefix = list(shell) if isinstance(shell, list) and shell else list(DEFAULT_SHELL)
    return [*prefix, ins.args]


def _cmd(state: _State, ins: Instruction) -> None:
    argv = _cmd_line(state, ins)
    state.config["Cmd"] = argv
    state.config.pop("ArgsEscaped", None)  # only ever true for Windows images
    if argv:
        state.cmd_set = True


def _entrypoint(state: _State, ins: Instruction) -> None:
    state.config["Entrypoint"] = _cmd_line(state, ins)
    state.config.pop("ArgsEscaped", None)
    if not state.cmd_set:
        state.config.pop("Cmd", None)  # a new entrypoint drops the inherited arguments


def _env(state: _State, ins: Instruction) -> None:
    env = state.env()
    for key, value in _pairs(state, ins):
        entry = f"{key}={value}"
        for i, existing in enumerate(env):
            if existing.split("=", 1)[0] == key:
                env[i] = entry
                break
        else:
            env.append(entry)
    state.config["Env"] = env


def _label(state: _State, ins: Instruction) -> None:
    labels = state.config.get("Labels")
    labels = dict(labels) if isinstance(labels, dict) else {}
    for key, value in _pairs(state, ins):
        labels[key] = value
    state.config["Labels"] = labels


def _expose(state: _State, ins: Instruction) -> None:
    ports = state.config.get("ExposedPorts")
    ports = dict(ports) if isinstance(ports, dict) else {}
    for word in split_words(ins.args):
        expanded = state.expand(ins, word)
        # $PORTS="80 443" exposes two ports: the one word-to-words expansion of Docker
        for spec in expanded.split():
            for port in port_keys(spec, ins):
                ports[port] = {}
    state.config["ExposedPorts"] = ports


def _volume(state: _State, ins: Instruction) -> None:
    listed = _json_strings(ins, require=ins.args.startswith("["))
    words = listed if listed is not None else ins.args.split()
    volumes = state.config.get("Volumes")
    volumes = dict(volumes) if isinstance(volumes, dict) else {}
    for word in words:
        path = state.expand(ins, word)
        if not path.strip():
            raise InvalidArgument(f"instruction {ins.original!r}: a volume path is empty")
        volumes[path] = {}
    state.config["Volumes"] = volumes


def _user(state: _State, ins: Instruction) -> None:
    state.config["User"] = state.expand(ins, ins.args)


def _workdir(state: _State, ins: Instruction) -> None:
    requested = state.expand(ins, ins.args)
    if not requested:
        raise InvalidArgument(f"instruction {ins.original!r}: the directory is empty")
    if not requested.startswith("/"):
        current = state.config.get("WorkingDir") or ""
        requested = posixpath.normpath(posixpath.join("/", str(current), requested))
    state.config["WorkingDir"] = requested


def _stopsignal(state: _State, ins: Instruction) -> None:
    sig = state.expand(ins, ins.args)
    if not valid_signal(sig):
        raise InvalidArgument(f"instruction {ins.original!r}: invalid signal {sig!r}")
    state.config["StopSignal"] = sig


def _onbuild(state: _State, ins: Instruction) -> None:
    trigger = ins.args.split(None, 1)[0].upper()
    if trigger == "ONBUILD":
        raise InvalidArgument(
            f"instruction {ins.original!r}: chaining ONBUILD via ONBUILD ONBUILD is not allowed")
    if trigger in ("FROM", "MAINTAINER"):
        raise InvalidArgument(
            f"instruction {ins.original!r}: {trigger} is not allowed as an ONBUILD trigger")
    onbuild = state.config.get("OnBuild")
    onbuild = list(onbuild) if isinstance(onbuild, list) else []
    onbuild.append(ins.args)
    state.config["OnBuild"] = onbuild


_HANDLERS = {
    "cmd": _cmd,
    "entrypoint": _entrypoint,
    "env": _env,
    "expose": _expose,
    "label": _label,
    "onbuild": _onbuild,
    "stopsignal": _stopsignal,
    "user": _user,
    "volume": _volume,
    "workdir": _workdir,
}


# --- argument forms ----------------------------------------------------------------------


def _json_strings(ins: Instruction, *, require: bool = False) -> list[str] | None:
    """The JSON array of strings ``ins.args`` holds; None when it is not JSON at all
    (the shell form) unless ``require``. JSON of another shape is InvalidArgument."""
    text = ins.args
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError as err:
        if require:
            raise InvalidArgument(
                f"instruction {ins.original!r}: not a valid json array: {err}") from None
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(
            f"instruction {ins.original!r}: the json form must be an array of strings")
    return value


def _pairs(state: _State, ins: Instruction) -> list[tuple[str, str]]:
    """The key/value pairs of ENV or LABEL, expanded against the Env before the
    instruction (so ``ENV a=1 b=$a`` gives b the previous a, as Docker does)."""
    name = ins.keyword.upper()
    words = split_words(ins.args)
    if "=" not in words[0]:
        parts = ins.args.split(None, 1)
        if len(parts) < 2:
            raise InvalidArgument(
                f"instruction {ins.original!r}: {name} must have two arguments "
                f"({name} key=value or {name} key value)")
        raw = [(parts[0], parts[1])]
    else:
        raw = []
        for word in words:
            if "=" not in word:
                raise InvalidArgument(
                    f"instruction {ins.original!r}: no '=' in {word!r}: must be of the form "
                    "key=value")
            key, _, value = word.partition("=")
            raw.append((key, value))
    pairs = []
    for key, value in raw:
        expanded_key = state.expand(ins, key)
        if not expanded_key:
            raise InvalidArgument(f"instruction {ins.original!r}: {name} names can not be blank")
        pairs.append((expanded_key, state.expand(ins, value)))
    return pairs


def port_keys(spec: str, ins: Instruction | None = None) -> list[str]:
    """``ExposedPorts`` keys of one EXPOSE word: ``80`` -> ``["80/tcp"]``,
    ``8000-8001/udp`` -> ``["8000/udp", "8001/udp"]``; ``[ip:]host:container`` takes the
    container port, as Docker's nat.ParsePortSpecs does."""
    where = f"instruction {ins.original!r}: " if ins is not None else ""
    port, _, proto = spec.partition("/")
    proto = proto or "tcp"
    if proto.lower() not in _PROTOCOLS:
        raise InvalidArgument(f"{where}invalid protocol {proto!r} in port {spec!r}")
    port = port.rsplit(":", 1)[-1]
    first, dash, last = port.partition("-")
    start = _port_number(first, spec, where)
    end = _port_number(last, spec, where) if dash else start
    if end < start:
        raise InvalidArgument(f"{where}invalid port range {port!r}")
    return [f"{n}/{proto.lower()}" for n in range(start, end + 1)]


def _port_number(text: str, spec: str, where: str) -> int:
    if not text.isdigit() or not text.isascii() or int(text) > 65535:
        raise InvalidArgument(f"{where}invalid port {spec!r}")
    return int(text)


def valid_signal(sig: str) -> bool:
    """Whether STOPSIGNAL accepts ``sig``: a positive number or a Linux signal name, with
    or without SIG, in any case (moby's signal.ParseSignal)."""
    if sig.isdigit() and sig.isascii():
        return 0 < int(sig) < 1 << 32
    name = sig.upper()
    return name.removeprefix("SIG") in _SIGNAL_NAMES


# --- words and expansion -----------------------------------------------------------------


def split_words(text: str) -> list[str]:
    """Split on whitespace outside quotes, keeping quotes and escapes in the words (they
    go on to ``expand``), as Docker's parser splits ENV and LABEL (``parseWords``)."""
    words: list[str] = []
    word: list[str] = []
    in_word = blank_ok = False
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
            elif ch == _ESCAPE and quote != "'" and i + 1 < len(text):
                word.append(ch)
                i += 1
                ch = text[i]
            word.append(ch)
        elif ch.isspace():
            if in_word and (word or blank_ok):
                words.append("".join(word))
            word, in_word, blank_ok = [], False, False
        else:
            in_word = True
            if ch in "'\"":
                quote, blank_ok = ch, True
            elif ch == _ESCAPE:
                if i + 1 == len(text):
                    break  # an escape at the end of the text is dropped
                word.append(ch)
                i += 1
                ch = text[i]
            word.append(ch)
        i += 1
    if in_word and (word or blank_ok):
        words.append("".join(word))
    return words


def expand(word: str, env: Iterable[str] = ()) -> str:
    """One word as the builder reads it (buildkit's shell lexer, ``ProcessWord``):
    quotes removed, ``\\`` escapes applied, variables substituted from ``env``
    (``KEY=value`` strings; the first definition of a key wins; unset is empty)."""
    values: dict[str, str] = {}
    for entry in env:
        key, _, value = entry.partition("=")
        values.setdefault(key, value)
    return _Lexer(word, values).word(stop="")


class _Lexer:
    def __init__(self, text: str, env: dict[str, str]) -> None:
        self.text = text
        self.pos = 0
        self.env = env

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1
        return ch

    def word(self, stop: str) -> str:
        """Characters up to ``stop`` (consumed; "" means to the end)."""
        out: list[str] = []
        while True:
            ch = self.peek()
            if ch == "":
                if stop:
                    raise InvalidArgument(f"unexpected end of statement while looking for {stop}")
                return "".join(out)
            if stop and ch == stop:
                self.next()
                return "".join(out)
            if ch == "'":
                out.append(self._single_quoted())
            elif ch == '"':
                out.append(self._double_quoted())
            elif ch == "$":
                out.append(self._dollar())
            else:
                self.next()
                if ch == _ESCAPE:
                    ch = self.next()  # the escaped character, or "" at the end
                out.append(ch)

    def _single_quoted(self) -> str:
        self.next()
        end = self.text.find("'", self.pos)
        if end < 0:
            raise InvalidArgument("unexpected end of statement while looking for matching "
                                  "single-quote")
        value, self.pos = self.text[self.pos:end], end + 1
        return value

    def _double_quoted(self) -> str:
        self.next()
        out: list[str] = []
        while True:
            ch = self.peek()
            if ch == "":
                raise InvalidArgument("unexpected end of statement while looking for matching "
                                      "double-quote")
            if ch == '"':
                self.next()
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            self.next()
            if ch == _ESCAPE:
                if self.peek() == "":
                    continue
                if self.peek() in ('"', "$", _ESCAPE):
                    ch = self.next()
            out.append(ch)

    def _dollar(self) -> str:
        self.next()  # the $
        if self.peek() != "{":
            name = self._name()
            return self.env.get(name, "") if name else "$"
        self.next()
        if self.peek() in ("", "{", "}", ":"):
            raise InvalidArgument("syntax error: bad substitution")
        name = self._name()
        if not name:
            raise InvalidArgument("syntax error: bad substitution")
        ch = self.next()
        if ch == "":
            raise InvalidArgument("syntax error: missing '}'")
        if ch == "}":
            return self.env.get(name, "")
        colon = ch == ":"
        if colon:
            ch = self.next()
            if ch == "":
                raise InvalidArgument("syntax error: missing '}'")
        if ch not in ("-", "+", "?"):
            raise InvalidArgument(f"unsupported modifier ({ch}) in substitution")
        alternative = self.word(stop="}")
        is_set = name in self.env
        value = self.env.get(name, "")
        present = bool(value) if colon else is_set
        if ch == "-":
            return value if present else alternative
        if ch == "+":
            return alternative if present else ""
        if not present:
            raise InvalidArgument(f"{name}: {alternative or 'is not allowed to be unset'}")
        return value

    def _name(self) -> str:
        ch = self.peek()
        if ch.isdigit() and ch.isascii():
            self.next()
            return ch  # $1: a positional parameter, never set here
        match = _NAME.match(self.text, self.pos)
        if match is None:
            return ""
        self.pos = match.end()
        return match.group()
