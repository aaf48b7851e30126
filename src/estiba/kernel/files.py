"""File data moved inside the kernel: ``copy_file_range(2)``, with ``sendfile(2)`` where
it is refused (two filesystems on older kernels, overlayfs over another filesystem).

Why: the importer and the layer applier copy hundreds of megabytes from a blob or an
archive into files; a kernel copy costs about a third of a ``read``/``write`` loop
through Python buffers, and on filesystems with reflinks it shares the blocks instead.
"""

from __future__ import annotations

import errno
import os

_REFUSED = frozenset({errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP})


def copy_range(src: int, dst: int, offset: int, length: int) -> None:
    """Copy ``length`` bytes of the file ``src`` from ``offset`` to ``dst`` at its
    current position (which advances). OSError(EIO) when ``src`` ends early."""
    use_copy_range = True
    while length > 0:
        done = -1
        if use_copy_range:
            try:
                done = os.copy_file_range(src, dst, length, offset)
            except OSError as err:
                if err.errno not in _REFUSED:
                    raise
                use_copy_range = False
        if done < 0:
            done = os.sendfile(dst, src, offset, length)
        if done == 0:
            raise OSError(errno.EIO, f"source file ended {length} bytes early")
        offset += done
        length -= done


def seekable_file(stream: object) -> bool:
    """Whether ``stream`` is a binary file object on a regular file that can seek:
    one whose bytes can be read at offsets (and copied by the kernel)."""
    import stat

    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        return stat.S_ISREG(os.fstat(fd).st_mode) and bool(stream.seekable())  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False
