"""nftables, the kernel's packet filter, driven through libnftables.

libnftables is the library behind the ``nft`` command: it takes the same script text and
sends it to the kernel as one netlink batch, which the kernel applies as one transaction
(all of it or none of it). That is what lets the firewall be replaced whole on each change
without a moment where half of it is missing. The library is loaded through ctypes on
first use; each call makes its own context, so an instance holds no state between calls
and may be shared by threads.
"""

from __future__ import annotations

import json
import re
from typing import Any

from estiba.errors import EstibaError, Internal, InvalidArgument, PermissionDenied, Unavailable

_LIBRARY = "libnftables.so.1"
# enum nft_output_flags in libnftables.h (the header is not always installed)
_OUTPUT_JSON = 1 << 4
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_FAMILIES = frozenset({"ip", "ip6", "inet", "arp", "bridge", "netdev"})
_ENOENT_TEXT = "No such file or directory"
_EPERM_TEXT = "Operation not permitted"


class Nftables:
    """libnftables. Cheap to make; the library is opened by the first call."""

    def __init__(self) -> None:
        self._lib: Any = None

    def run(self, script: str) -> str:
        """Run ``script`` (nft syntax) as one transaction and return what nft printed.

        Raises InvalidArgument carrying nft's error text when the kernel or the parser
        refuses it (PermissionDenied without CAP_NET_ADMIN), Internal when the library
        itself fails.
        """
        return self._run(script, 0)

    def list_table(self, family: str, name: str) -> dict[str, Any] | None:
        """The table as nft's JSON (``{"nftables": [...]}``), None when it is absent."""
        _check_table(family, name)
        try:
            out = self._run(f"list table {family} {name}", _OUTPUT_JSON)
        except InvalidArgument as err:
            if _ENOENT_TEXT in str(err):
                return None
            raise
        try:
            parsed = json.loads(out)
        except ValueError as err:
            raise Internal(f"nft: list table {family} {name}: bad json: {err}") from err
        if not isinstance(parsed, dict):
            raise Internal(f"nft: list table {family} {name}: json is not an object")
        return parsed

    def delete_table(self, family: str, name: str) -> bool:
        """Delete the table with everything in it; False when there was none.

        ``destroy table`` (which ignores an absent table) needs nft 1.0.8, so the
        absence is read from the error instead.
        """
        _check_table(family, name)
        try:
            self._run(f"delete table {family} {name}", 0)
        except InvalidArgument as err:
            if _ENOENT_TEXT in str(err):
                return False
            raise
        return True

    # --- the library -----------------------------------------------------------------

    def _library(self) -> Any:
        if self._lib is None:
            import ctypes

            try:
                lib = ctypes.CDLL(_LIBRARY, use_errno=True)
            except OSError as err:
                raise Unavailable(f"load {_LIBRARY}: {str(err).lower()}") from err
            lib.nft_ctx_new.restype = ctypes.c_void_p
            lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
            lib.nft_ctx_free.restype = None
            lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
            for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
                getattr(lib, name).restype = ctypes.c_int
                getattr(lib, name).argtypes = [ctypes.c_void_p]
            for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
                getattr(lib, name).restype = ctypes.c_char_p
                getattr(lib, name).argtypes = [ctypes.c_void_p]
            lib.nft_ctx_output_set_flags.restype = None
            lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
            lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            self._lib = lib
        return self._lib

    def _run(self, script: str, output_flags: int) -> str:
        lib = self._library()
        ctx = lib.nft_ctx_new(0)  # NFT_CTX_DEFAULT
        if not ctx:
            raise Internal("nft: cannot make a libnftables context")
        try:
            if lib.nft_ctx_buffer_output(ctx) != 0 or lib.nft_ctx_buffer_error(ctx) != 0:
                raise Internal("nft: cannot buffer libnftables output")
            if output_flags:
                # JSON output also makes the library try the input as JSON first; it
                # falls back to nft syntax, but listing commands only ever get this flag
                lib.nft_ctx_output_set_flags(ctx, output_flags)
            rc = lib.nft_run_cmd_from_buffer(ctx, script.encode())
            out = (lib.nft_ctx_get_output_buffer(ctx) or b"").decode(errors="replace")
            err = (lib.nft_ctx_get_error_buffer(ctx) or b"").decode(errors="replace")
        finally:
            lib.nft_ctx_free(ctx)
        if rc != 0:
            raise _error(err)
        return out


def _error(text: str) -> EstibaError:
    """nft's multi-line report (message, offending line, carets) on one line."""
    lines = [line.strip() for line in text.splitlines()]
    kept = [line for line in lines if line and set(line) - set("^~ ")]
    message = "nft: " + ("; ".join(kept) or "command failed")
    if _EPERM_TEXT in text:
        return PermissionDenied(message)
    return InvalidArgument(message)


def _check_table(family: str, name: str) -> None:
    # the names become part of a script: refuse what could change its meaning
    if family not in _FAMILIES:
        raise InvalidArgument(f"nft: unknown table family {family!r}")
    if not _NAME.match(name) or len(name) > 255:
        raise InvalidArgument(f"nft: bad table name {name!r}")
