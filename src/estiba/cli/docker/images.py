"""The image commands: ``images`` (docker's ``image ls``), ``rmi``, ``tag``,
``history``, ``import``, ``save``, ``load``, ``pull`` and ``image prune``, with the
docker CLI's output, errors and exit statuses. The checks docker makes before it asks
the daemon (references, the output path, a terminal where bytes would go) are made
here with its words; the rest is the daemon's answer, printed as docker prints it."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, count, exact, filters, parse
from estiba.cli.docker.output import go_path_error
from estiba.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from typing import Any, BinaryIO

    from estiba.cli.docker.context import Context

_FORMAT_HELP = ("Print with a template: 'table', 'table TEMPLATE', 'json' or a Go "
                "template")

USAGE = "images [OPTIONS] [REPOSITORY[:TAG]]"
FLAGS = (Flag("all", "a", help="List intermediate images too"),
         Flag("quiet", "q", help="Print image IDs only"),
         Flag("no-trunc", help="Print IDs in full"),
         Flag("digests", help="Add a column of digests"),
         Flag("filter", "f", repeat=True, kind="filter",
              help="Keep only images that match KEY=VALUE"),
         Flag("format", kind="string", help=_FORMAT_HELP),
         Flag("tree", help="Display multi-platform images in tree form (experimental)"))
RMI_FLAGS = (Flag("force", "f", help="Remove even images in use or with several names"),
             Flag("no-prune", help="Keep the untagged parent images"))
HISTORY_FLAGS = (Flag("format", kind="string", help=_FORMAT_HELP),
                 Flag("human", "H", help="Sizes and dates for people rather than "
                      "scripts", default=True),
                 Flag("no-trunc", help="Print IDs and commands in full"),
                 Flag("quiet", "q", help="Print layer IDs only"))
IMPORT_FLAGS = (Flag("change", "c", repeat=True, kind="list",
                     help="A Dockerfile instruction to apply to the new image"),
                Flag("message", "m", kind="string",
                     help="The comment recorded in the new image's history"),
                Flag("platform", kind="string",
                     help="The platform the new image is for (os[/arch[/variant]])"))
SAVE_FLAGS = (Flag("output", "o", kind="string",
                   help="Write the archive to this file rather than to STDOUT"),)
LOAD_FLAGS = (Flag("input", "i", kind="string",
                   help="Read the archive from this file rather than from STDIN"),
              Flag("quiet", "q", help="Print no progress"))
PULL_FLAGS = (Flag("all-tags", "a", help="Pull every tag of the repository"),
              Flag("disable-content-trust", help="Do not verify signatures",
                   default=True),
              Flag("platform", kind="string",
                   help="The platform to pull (os[/arch[/variant]])"),
              Flag("quiet", "q", help="Print the image's name only"))
PRUNE_FLAGS = (Flag("all", "a", help="Remove every image no container uses, not only "
                    "dangling ones"),
               Flag("filter", repeat=True, kind="filter",
                    help='Keep only images that match KEY=VALUE (e.g. "until=24h")'),
               Flag("force", "f", help="Skip the confirmation prompt"))

_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t" \
         "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
_TABLE_DIGEST = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t" \
                "{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"


def images_format(fmt: str, quiet: bool, digests: bool) -> str:
    """formatter.NewImageFormat."""
    if fmt in ("", "table"):
        return "{{.ID}}" if quiet else _TABLE_DIGEST if digests else _TABLE
    if fmt.startswith("table") and digests and "{{.Digest}}" not in fmt:
        return fmt + "\t{{.Digest}}"
    return fmt


def main(ctx: Context, argv: list[str]) -> int:
    import time

    from estiba.cli.docker.context import render_rows
    from estiba.cli.docker.output import IMAGE_HEADERS, image_rows

    opts, positional = parse(argv, FLAGS)
    count("images", positional, 0, 1)
    wanted = filters(opts["filter"])  # type: ignore[arg-type]
    if positional:
        wanted.setdefault("reference", []).append(positional[0])
    fmt = images_format(str(opts["format"] or ""), bool(opts["quiet"]),
                        bool(opts["digests"]))
    found = ctx.client.images(all=bool(opts["all"]), filters=wanted)
    rows = image_rows(found, time.time(), trunc=not opts["no_trunc"],
                      digests=bool(opts["digests"]) or "{{.Digest}}" in fmt)
    ctx.out.write(render_rows(fmt, rows, IMAGE_HEADERS))
    return 0


# --- pure: argv and answers to text ------------------------------------------------

def removal_lines(done: Iterable[Mapping[str, str]]) -> str:
    """What ``rmi`` prints for the daemon's list of what it did."""
    return "".join(f"Deleted: {item['Deleted']}\n" if item.get("Deleted")
                   else f"Untagged: {item.get('Untagged', '')}\n" for item in done)


_EPOCH_2000 = 946684800  # before it, docker shows no age (a built image's zero date)
_HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
_HISTORY_RAW_TABLE = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HISTORY_HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
                   "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT"}


def history_format(fmt: str, quiet: bool, human: bool) -> str:
    """NewHistoryFormat: only the plain ``table`` knows ``-q`` and ``-H``."""
    if fmt in ("", "table"):
        return "{{.ID}}" if quiet else _HISTORY_TABLE if human else _HISTORY_RAW_TABLE
    return fmt


def rfc3339(epoch: int) -> str:
    """Go's ``time.Unix(epoch, 0).Format(time.RFC3339)``, in the local zone."""
    import time

    local = time.localtime(epoch)
    offset = local.tm_gmtoff or 0
    zone = "Z" if offset == 0 else \
        f"{'+' if offset > 0 else '-'}{abs(offset) // 3600:02d}:{abs(offset) % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", local) + zone


class HistoryRow:
    """One line of ``history``: a layer of the image, the fields docker's
    historyContext offers, in the order its ``json`` prints them."""

    __fields__ = ("Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size")

    def __init__(self, h: Mapping[str, Any], now: float, trunc: bool = True,
                 human: bool = True) -> None:
        from estiba.cli.docker.output import ago, ellipsis, truncate_id
        from estiba.units import human_size

        hid = str(h.get("Id") or "")
        self.ID = truncate_id(hid) if trunc else hid
        created = int(h.get("Created") or 0)
        self.CreatedAt = rfc3339(created)
        if not human:
            self.CreatedSince = self.CreatedAt
        elif created <= _EPOCH_2000:
            self.CreatedSince = "N/A"
        else:
            self.CreatedSince = ago(created, now)
        created_by = str(h.get("CreatedBy") or "").replace("\t", " ")
        self.CreatedBy = ellipsis(created_by, 45) if trunc else created_by
        size = int(h.get("Size") or 0)
        self.Size = human_size(size, 3) if human else str(size)
        self.Comment = str(h.get("Comment") or "")


HistoryRow.__name__ = "*image.historyContext"  # the type docker's template errors name


_PRUNE_WARNING = {
    False: "WARNING! This will remove all dangling images.\n"
           "Are you sure you want to continue?",
    True: "WARNING! This will remove all images without at least one container "
          "associated to them.\nAre you sure you want to continue?",
}


def prune_filters(items: list[str], all: bool) -> dict[str, list[str]]:
    """``--filter`` values with the ``dangling`` filter docker adds."""
    wanted = filters(items, "--filter")
    wanted["dangling"] = ["false" if all else "true"]
    return wanted


def prune_text(report: Mapping[str, Any]) -> str:
    """What ``image prune`` prints for the daemon's report."""
    from estiba.cli.docker.pruning import deleted, image_lines, reclaimed

    text = deleted("Deleted Images:", image_lines(report.get("ImagesDeleted") or ()))
    return text + reclaimed(int(report.get("SpaceReclaimed") or 0) if text else 0)


def output_problem(path: str) -> str:
    """Why docker's atomic writer would refuse to write ``path`` (``""``: none)."""
    import os
    import stat

    directory = os.path.dirname(path)
    if directory not in ("", ".", ".."):
        try:
            st = os.stat(directory)
        except OSError as err:
            return f"invalid output path: {go_path_error('stat', directory, err)}"
        if not stat.S_ISDIR(st.st_mode):
            return f"invalid output path: stat {directory}: not a directory"
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return ""
    except OSError as err:
        return f"failed to stat output path: {go_path_error('lstat', path, err)}"
    kinds = ((stat.S_ISREG, ""), (stat.S_ISDIR, "cannot write to a directory"),
             (stat.S_ISLNK, "cannot write to a symbolic link directly"),
             (stat.S_ISFIFO, "cannot write to a named pipe (FIFO)"),
             (stat.S_ISSOCK, "cannot write to a socket"),
             (stat.S_ISCHR, "cannot write to a character device file"),
             (stat.S_ISBLK, "cannot write to a block device file"))
    for test, problem in kinds:
        if test(mode):
            return problem
    return f"unknown file mode {oct(mode)}"


# --- the commands ------------------------------------------------------------------

def _stream_errors(messages: Iterator[dict]) -> Iterator[dict]:
    """The client raises an ``{"error": ...}`` object as a DockerError; docker prints
    such an error as it is, without "Error response from daemon"."""
    from estiba.cli.docker.progress import StreamError
    from estiba.client.docker import DockerError

    try:
        yield from messages
    except DockerError as err:
        raise StreamError(err.message) from err


def _die_of_sigpipe() -> None:
    """End as docker ends when the reader of its output went away: killed by SIGPIPE
    (Python ignores the signal and raises BrokenPipeError instead)."""
    import os
    import signal

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGPIPE)


def rmi(ctx: Context, argv: list[str]) -> int:
    from estiba.client.docker import DockerError

    opts, names = parse(argv, RMI_FLAGS)
    count("rmi", names, 1, None)
    failed: list[str] = []
    fatal = False
    for name in names:
        try:
            done = ctx.client.remove_image(name, force=bool(opts["force"]),
                                           noprune=bool(opts["no_prune"]))
        except DockerError as err:
            fatal = fatal or err.status != 404
            failed.append(f"Error response from daemon: {err.message}")
            continue
        ctx.out.write(removal_lines(done or []))
    if not failed:
        return 0
    ctx.out.flush()
    ctx.err.write("\n".join(failed) + "\n")
    # with -f, images that are not there are reported but do not fail the command
    return 1 if fatal or not opts["force"] else 0


def tag_request(source: str, target: str) -> tuple[str, str]:
    """The repository and tag ``tag`` asks for, after docker's checks of both
    references; ``BadReference`` with docker's message."""
    from estiba.cli.docker.output import go_quote
    from estiba.cli.docker.reference import BadReference, parse_any, parse_named, with_default_tag

    ref = None
    for text, check in ((source, parse_any), (target, parse_named)):
        try:
            ref = check(text)
        except BadReference as err:
            raise BadReference(f"Error parsing reference: {go_quote(text)} is not a valid "
                               f"repository/tag: {err}") from None
    assert ref is not None and not isinstance(ref, str)
    if ref.digest:
        raise BadReference("refusing to create a tag with a digest reference")
    ref = with_default_tag(ref)
    return ref.name, ref.tag


def tag(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.reference import BadReference

    _, args = parse(argv, ())
    exact("tag", args, 2)
    try:
        repo, tag = tag_request(*args)
    except BadReference as err:
        raise InvalidArgument(str(err)) from None
    ctx.client.tag(args[0], repo, tag)
    return 0


def history(ctx: Context, argv: list[str]) -> int:
    import time

    from estiba.cli.docker.context import render_rows

    opts, args = parse(argv, HISTORY_FLAGS)
    exact("history", args, 1)
    human = bool(opts["human"])
    layers = ctx.client.history(args[0])
    fmt = history_format(str(opts["format"] or ""), bool(opts["quiet"]), human)
    now = time.time()
    rows = [HistoryRow(h, now, not opts["no_trunc"], human) for h in layers]
    ctx.out.write(render_rows(fmt, rows, HISTORY_HEADERS))
    return 0


def _file_size(file: Any) -> int | None:
    import os
    import stat

    try:
        st = os.fstat(file.fileno())
    except (OSError, AttributeError, ValueError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _send_archive(ctx: Context, file: BinaryIO, what: str, send: Any) -> None:
    """``send(body)`` the archive and show the daemon's answer: with a bar for the
    bytes sent and bars for the answer's counts on a terminal."""
    from estiba.cli.docker.progress import Counted, show, terminal_bars

    bars = terminal_bars(ctx.out)
    body: Any = file
    if bars is not None:
        body = Counted(file, bars.transfer(what, _file_size(file)))
    try:
        messages = send(body)
    except BaseException:
        if bars is not None:
            bars.stop()
        raise
    show(_stream_errors(messages), ctx.out, bars)


def import_(ctx: Context, argv: list[str]) -> int:
    import sys

    from estiba.cli.docker.reference import BadReference, parse_named

    opts, args = parse(argv, IMPORT_FLAGS)
    count("import", args, 1, None)  # docker ignores arguments past the reference
    source, ref = args[0], args[1] if len(args) > 1 else ""
    file: Any = None
    if source == "-":
        file = sys.stdin.buffer
    elif not source.startswith(("http://", "https://")):
        try:
            file = open(source, "rb")  # noqa: SIM115 - closed below
        except OSError as err:
            raise InvalidArgument(go_path_error("open", source, err)) from None
    try:
        if ref:
            try:
                parse_named(ref)
            except BadReference as err:
                raise InvalidArgument(str(err)) from None
        options = {"repo": ref, "message": str(opts["message"] or ""),
                   "changes": opts["change"],
                   "platform": str(opts["platform"] or "").lower()}
        if file is None:  # the daemon fetches a URL itself
            from estiba.cli.docker.progress import show, terminal_bars

            messages = ctx.client.import_from(source, **options)  # type: ignore[arg-type]
            show(messages, ctx.out, terminal_bars(ctx.out))
        else:
            _send_archive(ctx, file, "Importing", lambda body: ctx.client.import_from(
                "-", body, **options))  # type: ignore[arg-type]
    finally:
        if file is not None and source != "-":
            file.close()
    return 0


def _write_atomically(path: str, chunks: Iterable[bytes], seen: Any) -> None:
    """The bytes to ``path`` (mode 0600) through a file beside it renamed at the end,
    as docker's atomic writer does: a failed save leaves no partial archive."""
    import os

    directory, name = os.path.split(os.path.abspath(path))
    temp = os.path.join(directory, f".tmp-{name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
                seen(len(chunk))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def save(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.progress import is_terminal

    opts, names = parse(argv, SAVE_FLAGS)
    count("save", names, 1, None)
    output = str(opts["output"] or "")
    if not output:
        if is_terminal(ctx.out):
            raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o "
                                  "flag or redirect")
        chunks = ctx.client.save(names)
        ctx.out.flush()
        stdout = ctx.out.buffer  # type: ignore[attr-defined]
        try:
            for chunk in chunks:
                stdout.write(chunk)
            stdout.flush()
        except BrokenPipeError:
            _die_of_sigpipe()
        return 0
    problem = output_problem(output)
    if problem:
        raise InvalidArgument(f"failed to save image: {problem}")
    from estiba.cli.docker.progress import terminal_bars

    chunks = ctx.client.save(names)
    bars = terminal_bars(ctx.out)
    seen = bars.transfer("Saving", None) if bars is not None else (lambda size: None)
    try:
        _write_atomically(output, chunks, seen)
    except OSError as err:
        problem = go_path_error("write", output, err)
        raise InvalidArgument(f"failed to save image: {problem}") from None
    finally:
        if bars is not None:
            bars.stop()
    return 0


def load(ctx: Context, argv: list[str]) -> int:
    import sys

    opts, args = parse(argv, LOAD_FLAGS)
    count("load", args, 0, 0)
    path = str(opts["input"] or "")
    if not path:
        if sys.stdin.isatty():
            raise InvalidArgument("requested load from stdin, but stdin is empty")
        file: Any = sys.stdin.buffer
    else:
        try:
            file = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as err:
            raise InvalidArgument(go_path_error("open", path, err)) from None
    try:
        if opts["quiet"]:
            from estiba.cli.docker.progress import show

            show(_stream_errors(ctx.client.load(file)), ctx.out)
        else:
            _send_archive(ctx, file, "Loading", ctx.client.load)
    finally:
        if path:
            file.close()
    return 0


def pull(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.progress import show, terminal_bars
    from estiba.cli.docker.reference import BadReference, parse_named, with_default_tag

    opts, args = parse(argv, PULL_FLAGS)
    exact("pull", args, 1)
    try:
        ref = parse_named(args[0])
    except BadReference as err:
        raise InvalidArgument(str(err)) from None
    quiet = bool(opts["quiet"])
    if opts["all_tags"] and not ref.name_only:
        raise InvalidArgument("tag can't be used with --all-tags/-a")
    if not opts["all_tags"] and ref.name_only:
        ref = with_default_tag(ref)
        if not quiet:
            ctx.out.write(f"Using default tag: {ref.tag}\n")
            ctx.out.flush()
    messages = _stream_errors(ctx.client.pull(
        ref.name, "" if opts["all_tags"] else ref.digest or ref.tag,
        str(opts["platform"] or "").lower()))
    if quiet:
        for _ in messages:  # the objects are not shown; an error still ends the pull
            pass
    else:
        show(messages, ctx.out, terminal_bars(ctx.out))
    ctx.out.write(f"{ref}\n")
    return 0


def prune(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.pruning import confirm

    opts, args = parse(argv, PRUNE_FLAGS)
    count("image prune", args, 0, 0)
    wanted = prune_filters(opts["filter"], bool(opts["all"]))  # type: ignore[arg-type]
    if not opts["force"] and not confirm(ctx, _PRUNE_WARNING[bool(opts["all"])]):
        return 0  # docker takes a refusal as a cancelled command, not a failure
    ctx.out.write(prune_text(ctx.client.prune_images(filters=wanted)))
    return 0


FLAGS_OF = {"main": FLAGS, "rmi": RMI_FLAGS, "tag": (), "history": HISTORY_FLAGS,
            "import_": IMPORT_FLAGS, "save": SAVE_FLAGS, "load": LOAD_FLAGS,
            "pull": PULL_FLAGS, "prune": PRUNE_FLAGS}
