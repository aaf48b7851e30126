"""The C library's calls, bound through ``_ctypes`` (the C half of ctypes) alone.

Why: importing the ``ctypes`` package costs ~3 ms (its Python layer defines every C type
and pulls in ``struct`` and ``types``), about a tenth of a container's whole ``run``;
every runtime call that makes a container needs libc before its first fork. The calls
here take only integers and byte strings, so three C types and one function-pointer
class are all they need. Code that needs structures or pointers (libseccomp, bpf) uses
``ctypes`` itself, on paths that pay for it anyway.
"""

from __future__ import annotations

import _ctypes


class _Int(_ctypes._SimpleCData):
    _type_ = "i"


class _Long(_ctypes._SimpleCData):
    _type_ = "l"


# cdecl, and errno saved right after each call, for get_errno()
_FLAGS = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO


class _Function(_ctypes.CFuncPtr):
    _flags_ = _FLAGS
    _restype_ = _Int


class _LongFunction(_ctypes.CFuncPtr):
    _flags_ = _FLAGS
    _restype_ = _Long


class Libc:
    """``libc.mount(b"proc", b"/x", b"proc", 0, None)``: each attribute is the C function
    of that name, returning an int; ``syscall`` returns a long. Arguments are ints,
    ``bytes`` (passed as ``char *``) or None (NULL)."""

    def __init__(self) -> None:
        self._handle = _ctypes.dlopen(None, 0)

    def __getattr__(self, name: str) -> _ctypes.CFuncPtr:
        cls = _LongFunction if name == "syscall" else _Function
        function = cls((name, self))
        setattr(self, name, function)
        return function

    @staticmethod
    def errno() -> int:
        return _ctypes.get_errno()
