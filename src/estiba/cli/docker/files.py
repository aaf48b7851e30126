"""A container's filesystem from the command line: ``cp`` (both ways, ``-`` for a tar
on stdin or stdout), ``diff``, ``export`` and ``commit``, as docker's ``container``
commands do them.

``cp`` follows docker's copy rules (its archive package's ``CopyInfoDestinationPath``
and ``PrepareArchiveCopy``): a source copied into an existing directory keeps its
name; copied to a path that does not exist, it takes that path's name; ``SRC/.``
copies a directory's contents; a path ending in ``/`` must be a directory. The tar
sent is laid out as docker's (512-byte blocks, two zero blocks at the end, no record
padding), so the sizes it reports are docker's."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, between, exact, parse
from estiba.cli.docker.output import go_path_error
from estiba.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

    from estiba.cli.docker.context import Context

CP_FLAGS = (Flag("archive", "a", help="Keep the files' uid and gid"),
            Flag("follow-link", "L", help="Follow a symbolic link given as the source"),
            Flag("quiet", "q", help="Print no summary (none is printed unless stdout is "
                                    "a terminal)"))
EXPORT_FLAGS = (Flag("output", "o", help="File to write to instead of stdout",
                     kind="string"),)
COMMIT_FLAGS = (Flag("author", "a", help='Author (e.g. "Jane Doe <jane@example.com>")',
                     kind="string"),
                Flag("change", "c", repeat=True,
                     help="Dockerfile instruction to apply to the image"),
                Flag("message", "m", help="Message for the commit", kind="string"),
                Flag("pause", "p", help="Pause the container while committing",
                     default=True))
FLAGS_OF = {"cp": CP_FLAGS, "diff": (), "export": EXPORT_FLAGS, "commit": COMMIT_FLAGS}

GO_DIR = 1 << 31  # os.ModeDir in the path stat's mode
GO_SYMLINK = 1 << 27  # os.ModeSymlink
GO_TYPE = GO_DIR | GO_SYMLINK | 1 << 26 | 1 << 25 | 1 << 24 | 1 << 21 | 1 << 19
BLOCK = 512


class CopyError(InvalidArgument):
    """The copy cannot be done; ``str()`` is docker's line, printed as it is, status 1
    (``context.run``)."""


# --- paths, as docker's archive package handles them --------------------------------

def split_cp_arg(arg: str) -> tuple[str, str]:
    """(container, path) of a ``cp`` argument; container ``""`` for a local path. A
    local path holding ``:`` is made plain by a leading ``/`` or ``.``."""
    if arg.startswith("/"):
        return "", arg
    container, colon, path = arg.partition(":")
    if not colon or container.startswith("."):
        return "", arg
    return container, path


def _clean(path: str) -> str:
    import posixpath

    return posixpath.normpath(path) if path else "."


def specifies_current_dir(path: str) -> bool:
    import posixpath

    return posixpath.basename(path) == "."


def has_trailing_separator(path: str) -> bool:
    return path.endswith("/")


def preserve_trailing(cleaned: str, original: str) -> str:
    """PreserveTrailingDotOrSeparator: keep what ``/.`` or ``/`` said of the path."""
    if specifies_current_dir(original) and not specifies_current_dir(cleaned):
        cleaned = cleaned.rstrip("/") + "/."
    if has_trailing_separator(original) and not has_trailing_separator(cleaned):
        cleaned += "/"
    return cleaned


def split_dir_entry(path: str) -> tuple[str, str]:
    """SplitPathDirEntry: (directory, entry); ``a/b/.`` is (``a/b``, ``.``)."""
    import posixpath

    cleaned = _clean(path)
    if specifies_current_dir(path):
        cleaned += "/."
    return posixpath.dirname(cleaned) or ".", posixpath.basename(cleaned)


def rebase_name(path: str, resolved: str) -> tuple[str, str]:
    """GetRebaseName: (the resolved path keeping ``path``'s trailing ``/.`` or ``/``,
    the name entries must take when the link's target has another one)."""
    import posixpath

    if specifies_current_dir(path) and not specifies_current_dir(resolved):
        resolved += "/."
    if has_trailing_separator(path) and not has_trailing_separator(resolved):
        resolved += "/"
    name = ""
    if posixpath.basename(path.rstrip("/") or "/") != posixpath.basename(
            resolved.rstrip("/") or "/"):
        name = posixpath.basename(path.rstrip("/"))
    return resolved, name


def copy_plan(src_path: str, src_is_dir: bool, src_rebase: str, dst_path: str,
              dst_exists: bool, dst_is_dir: bool) -> tuple[str, tuple[str, str] | None]:
    """PrepareArchiveCopy: (the directory to extract into, the (old, new) first name
    to rename the entries by, or None)."""
    dst_dir, dst_base = split_dir_entry(dst_path)
    _, src_base = split_dir_entry(src_path)
    if src_rebase:
        src_base = src_rebase
    if dst_exists and dst_is_dir:
        return dst_path, None
    if dst_exists and src_is_dir:
        raise CopyError("cannot copy directory")
    if dst_exists or src_is_dir:
        return dst_dir, (src_base, dst_base)
    if has_trailing_separator(dst_path) or specifies_current_dir(dst_path):
        raise CopyError("no such directory")
    return dst_dir, (src_base, dst_base)


def rebased(name: str, old: str, new: str) -> str:
    """RebaseArchiveEntries' renaming: the first occurrence of ``old`` replaced."""
    return name.replace(old, new, 1)


def local_path(path: str) -> str:
    """resolveLocalPath: absolute, with its trailing ``/.`` or ``/`` kept."""
    import os

    return preserve_trailing(os.path.abspath(path), path)


# --- copying out of a container ----------------------------------------------------

class _Chunks:
    """A reader over the daemon's chunks, counting what it hands out."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        self.total += len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 16):
            pass


def _destination(path: str) -> tuple[str, bool, bool]:
    """CopyInfoDestinationPath: (path, exists, is a directory), symlinks followed."""
    import os
    import posixpath
    import stat

    original = path
    for _ in range(11):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            break
        except OSError as err:
            raise CopyError(go_path_error("lstat", path, err)) from None
        if not os.path.islink(path):
            return path, True, stat.S_ISDIR(st.st_mode)
        target = os.readlink(path)
        if not target.startswith("/"):
            target = posixpath.join(split_dir_entry(path)[0], target)
        path = target
    else:
        raise CopyError(f"too many symlinks in {original}")
    parent = split_dir_entry(path)[0]
    try:
        st = os.stat(parent)
    except OSError as err:
        raise CopyError(go_path_error("stat", parent, err)) from None
    if not stat.S_ISDIR(st.st_mode):
        raise CopyError("not a directory")
    return path, False, False


def validate_output(path: str) -> None:
    """ValidateOutputPath as ``cp`` reports it."""
    import os
    import posixpath

    parent = posixpath.dirname(_clean(path))
    if parent not in ("", ".") and not os.path.exists(parent):
        raise CopyError(f'invalid output path: directory "{parent}" does not exist')
    try:
        os.stat(path)
    except FileNotFoundError:
        return
    except OSError as err:
        raise CopyError(go_path_error("stat", path, err)) from None


def _untar(reader: _Chunks, dst_dir: str, rename: tuple[str, str] | None) -> int:
    """Extract into ``dst_dir`` as docker's Untar does (no chown, a directory never
    replaced by a file nor the other way); the bytes docker counts as copied."""
    import os
    import tarfile

    class _Tar(tarfile.TarFile):
        def chown(self, *args: object, **kw: object) -> None:
            pass  # docker extracts without chown: files belong to whoever copies

    root = os.path.realpath(dst_dir)
    dirs: list[tuple[str, float]] = []
    end = 2 * BLOCK
    try:
        tar = _Tar.open(fileobj=reader, mode="r|")  # type: ignore[arg-type]
    except tarfile.TarError as err:
        raise CopyError(f"unexpected EOF: {err}") from None
    with tar:
        for member in tar:
            end = member.offset_data + -(-member.size // BLOCK) * BLOCK + 2 * BLOCK
            if rename is not None:
                member.name = rebased(member.name, *rename)
                if member.islnk():
                    member.linkname = rebased(member.linkname, *rename)
            target = os.path.normpath(os.path.join(root, member.name))
            if target != root and not target.startswith(root + "/"):
                raise CopyError(f'"{member.name}" is outside of "{dst_dir}"')
            if os.path.lexists(target):
                is_dir = os.path.isdir(target) and not os.path.islink(target)
                if is_dir and not member.isdir():
                    raise CopyError(f'cannot overwrite directory "{target}" with '
                                    f'non-directory "{member.name}"')
                if not is_dir and member.isdir():
                    raise CopyError(f'cannot overwrite non-directory "{target}" with '
                                    f'directory "{member.name}"')
                if not is_dir:
                    os.unlink(target)
            try:
                tar.extract(member, root)
            except OSError as err:
                raise CopyError(go_path_error("open", target, err)) from None
            if member.isdir():
                dirs.append((target, member.mtime))
    for path, mtime in reversed(dirs):  # their files changed them: times set last
        os.utime(path, (mtime, mtime))
    if rename is not None:
        return end  # read through a tar reader: up to the end-of-archive blocks
    reader.drain()  # read through a buffer: all of it
    return reader.total


def copy_from(ctx: Context, container: str, src: str, dst: str, follow: bool,
              quiet: bool) -> int:
    import posixpath

    if dst != "-":
        dst = local_path(dst)
    validate_output(dst)
    rebase = ""
    if follow:
        from estiba.client.docker import DockerError

        try:
            found = ctx.client.stat_archive(container, src)
        except DockerError:
            found = {}
        if int(found.get("mode") or 0) & GO_SYMLINK:
            target = str(found.get("linkTarget") or "")
            if not target.startswith("/"):
                target = posixpath.join(split_dir_entry(src)[0], target)
            src, rebase = rebase_name(src, target)
    stat, chunks = ctx.client.get_archive(container, src)
    if dst == "-":
        from estiba.cli.docker.streams import writer

        write = writer(ctx.out)
        for chunk in chunks:
            write(chunk)
        return 0
    reader = _Chunks(iter(chunks))
    try:
        path, exists, is_dir = _destination(dst)
        dst_dir, rename = copy_plan(src, bool(int(stat.get("mode") or 0) & GO_DIR),
                                    rebase, path, exists, is_dir)
        # the daemon names the entries as the link's target is named
        served = split_dir_entry(src)[1]
        if rename is not None:
            rename = (served, rename[1])
        elif rebase:
            rename = (served, rebase)
        copied = _untar(reader, dst_dir, rename)
    except CopyError:
        _summary(ctx, quiet, reader.total, dst)  # docker sums up a failed copy too
        raise
    _summary(ctx, quiet, copied, dst)
    return 0


def _summary(ctx: Context, quiet: bool, size: int, destination: str) -> None:
    if not quiet:
        from estiba.units import human_size

        ctx.err.write(f"Successfully copied {human_size(size, 3)} to {destination}\n")


# --- copying into a container -----------------------------------------------------

def _source(path: str, follow: bool) -> tuple[str, bool, str]:
    """CopyInfoSourcePath: (the path, whether it is a directory, the name its
    entries must take)."""
    import os
    import posixpath
    import stat

    rebase = ""
    try:
        if follow:
            resolved, rebase = rebase_name(path, os.path.realpath(path, strict=True))
        else:  # the parent's links resolved, the last name's not
            head, base = posixpath.split(path)
            resolved = os.path.realpath(head or ".", strict=True).rstrip("/") + "/" + base
            if has_trailing_separator(path) and posixpath.basename(path) != \
                    posixpath.basename(resolved):
                rebase = posixpath.basename(path)
        st = os.lstat(resolved)
    except OSError as err:
        raise CopyError(go_path_error("lstat", err.filename or path, err)) from None
    return resolved, stat.S_ISDIR(st.st_mode), rebase


def write_tar(out: BinaryIO, source: str, name: str) -> int:
    """``source`` (a file or a whole tree) as a tar with its entries under ``name``
    (``.``: the directory's entries at the top, as docker names them), laid out as
    docker's tar writer lays it out; the bytes written."""
    import os
    import tarfile

    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]

        def add(path: str, arcname: str) -> None:
            info = tar.gettarinfo(path, arcname)
            info.mtime = int(info.mtime)  # whole seconds: no PAX record for the time
            info.uname = info.gname = ""  # docker's writer looks no names up
            if info.isreg():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
            if info.isdir():
                for entry in sorted(os.listdir(path)):
                    add(os.path.join(path, entry), f"{arcname}/{entry}" if arcname != "."
                        else entry)

        add(source, name)
        end = tar.offset + 2 * BLOCK
    out.truncate(end)  # docker's writer ends with the two zero blocks, no record padding
    return end


def copy_to(ctx: Context, container: str, src: str, dst: str, follow: bool,
            quiet: bool, archive: bool) -> int:
    import posixpath
    import sys
    import tempfile

    from estiba.client.docker import DockerError

    if src != "-":
        src = local_path(src)
    dst_info = dst
    exists = is_dir = False
    try:
        found = ctx.client.stat_archive(container, dst)
        if int(found.get("mode") or 0) & GO_SYMLINK:
            target = str(found.get("linkTarget") or "")
            if not target.startswith("/"):
                target = posixpath.join(split_dir_entry(dst)[0], target)
            dst_info = target
            found = ctx.client.stat_archive(container, target)
        mode = int(found.get("mode") or 0)
        if mode & GO_TYPE and not mode & GO_DIR:
            raise CopyError(f'destination "{container}:{dst}" must be a directory or a '
                            "regular file")
        exists, is_dir = True, bool(mode & GO_DIR)
    except DockerError:
        pass  # the extraction says what is wrong, if anything
    if src == "-":
        if not is_dir:
            raise CopyError(f'destination "{container}:{dst}" must be a directory')
        ctx.client.put_archive(container, dst_info, sys.stdin.buffer,
                               no_overwrite_dir_non_dir=True, copy_uid_gid=archive)
        return 0
    path, src_is_dir, rebase = _source(src, follow)
    dst_dir, rename = copy_plan(path, src_is_dir, rebase, dst_info, exists, is_dir)
    parent, base = split_dir_entry(path)
    top = rename[1] if rename is not None else rebase or base
    tree = parent if base == "." else path.rstrip("/") or "/"
    with tempfile.TemporaryFile() as tar:
        size = write_tar(tar, tree, top)
        tar.seek(0)
        try:
            ctx.client.put_archive(container, dst_dir, tar,
                                   no_overwrite_dir_non_dir=True, copy_uid_gid=archive)
        except DockerError:
            _summary(ctx, quiet, size, f"{container}:{dst_info}")  # refused: summed up too
            raise
    _summary(ctx, quiet, size, f"{container}:{dst_info}")
    return 0


def cp(ctx: Context, argv: list[str]) -> int:
    opts, args = parse(argv, CP_FLAGS)
    exact("cp", args, 2)
    source, destination = args
    if not source:
        raise CopyError("source can not be empty")
    if not destination:
        raise CopyError("destination can not be empty")
    # docker prints its summary only to a person at a terminal
    quiet = bool(opts["quiet"]) or not ctx.out.isatty()
    src_container, src = split_cp_arg(source)
    dst_container, dst = split_cp_arg(destination)
    if src_container and dst_container:
        raise CopyError("copying between containers is not supported")
    if src_container:
        return copy_from(ctx, src_container, src, dst, bool(opts["follow_link"]), quiet)
    if dst_container:
        return copy_to(ctx, dst_container, src, dst, bool(opts["follow_link"]), quiet,
                       bool(opts["archive"]))
    raise CopyError("must specify at least one container source")


# --- diff, export, commit ------------------------------------------------------------

KINDS = {0: "C", 1: "A", 2: "D"}


def diff_lines(changes: list[dict]) -> str:
    return "".join(f"{KINDS.get(int(c.get('Kind') or 0), '?')} {c.get('Path')}\n"
                   for c in changes)


def diff(ctx: Context, argv: list[str]) -> int:
    _, args = parse(argv, ())
    exact("diff", args, 1)
    ctx.out.write(diff_lines(ctx.client.changes(args[0])))
    return 0


def export_target(path: str) -> None:
    """What docker checks of ``-o`` before asking the daemon."""
    import os
    import posixpath

    parent = posixpath.dirname(_clean(path))
    if parent not in ("", "."):
        try:
            st = os.stat(parent)
        except OSError as err:
            raise CopyError("failed to export container: invalid output path: "
                            + go_path_error("stat", parent, err)) from None
        import stat

        if not stat.S_ISDIR(st.st_mode):
            raise CopyError("failed to export container: invalid output path: "
                            f"stat {parent}: not a directory")
    if os.path.isdir(path):
        raise CopyError("failed to export container: cannot write to a directory")


def export(ctx: Context, argv: list[str]) -> int:
    import os
    import tempfile

    opts, args = parse(argv, EXPORT_FLAGS)
    exact("export", args, 1)
    output = str(opts["output"] or "")
    if not output and ctx.out.isatty():
        raise CopyError("cowardly refusing to save to a terminal. Use the -o flag "
                        "or redirect")
    if output:
        export_target(output)
    chunks = ctx.client.export(args[0])
    if not output:
        from estiba.cli.docker.streams import writer

        write = writer(ctx.out)
        for chunk in chunks:
            write(chunk)
        return 0
    # written beside the target, then renamed: no half-written file under its name
    fd, temp = tempfile.mkstemp(prefix=".estiba-export-",
                                dir=os.path.dirname(os.path.abspath(output)))
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        os.replace(temp, output)
    except BaseException:
        os.unlink(temp)
        raise
    return 0


def commit_target(text: str) -> tuple[str, str]:
    """(repository, tag) of ``commit``'s REPOSITORY[:TAG], checked as docker's client
    checks it (``BadReference`` in its words); the tag empty when none is given (the
    daemon's default applies)."""
    from estiba.cli.docker.reference import BadReference, parse_named
    from estiba.oci.reference import DEFAULT_DOMAIN

    if not text:
        return "", ""
    ref = parse_named(text)
    if ref.digest:
        raise BadReference("refusing to create a tag with a digest reference")
    path = ref.path
    if ref.domain != DEFAULT_DOMAIN:
        return f"{ref.domain}/{path}", ref.tag
    official = path.removeprefix("library/")
    return (official if official != path and "/" not in official else path), ref.tag


def commit(ctx: Context, argv: list[str]) -> int:
    # the arguments after CONTAINER are the image's name, never flags
    opts, args = parse(argv, COMMIT_FLAGS, interspersed=False)
    between("commit", args, 1, 2)
    from estiba.cli.docker.reference import BadReference

    try:
        repo, tag = commit_target(args[1] if len(args) > 1 else "")
    except BadReference as err:
        ctx.err.write(f"{err}\n")
        return 1
    made = ctx.client.commit(args[0], repo=repo, tag=tag,
                             comment=str(opts["message"] or ""),
                             author=str(opts["author"] or ""),
                             changes=[str(c) for c in opts["change"]],  # type: ignore[union-attr]
                             pause=bool(opts["pause"]))
    ctx.out.write(f"{made.get('Id', '')}\n")
    return 0
