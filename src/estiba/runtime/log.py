"""The runtime's log: ``--log FILE`` with ``--log-format text|json``, as runc writes it.

containerd's shim reads the ``msg`` of the last JSON line of this file when a call
fails, so errors go there as ``{"level":"error","msg":"...","time":"..."}``. Errors and
warnings also go to stderr, where a person running the runtime by hand reads them.
"""

from __future__ import annotations

import os
import sys

from estiba.oci.state import timestamp


class Log:
    def __init__(self, path: str = "", fmt: str = "text", debug: bool = False) -> None:
        self.path = path
        self.fmt = fmt
        self.debug_enabled = debug

    def _write(self, level: str, message: str) -> None:
        if not self.path:
            return
        if self.fmt == "json":
            import json

            line = json.dumps({"level": level, "msg": message, "time": timestamp()})
        else:
            escaped = message.replace("\\", "\\\\").replace('"', '\\"')
            line = f'time="{timestamp()}" level={level} msg="{escaped}"'
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                os.write(fd, (line + "\n").encode())
            finally:
                os.close(fd)
        except OSError as err:
            sys.stderr.write(f"estiba-runtime: write log {self.path}: {err.strerror}\n")

    def error(self, message: str) -> None:
        self._write("error", message)
        sys.stderr.write(f"estiba-runtime: {message}\n")
        sys.stderr.flush()

    def warn(self, message: str) -> None:
        self._write("warning", message)
        sys.stderr.write(f"estiba-runtime: warning: {message}\n")

    def debug(self, message: str) -> None:
        if self.debug_enabled:
            self._write("debug", message)
            if not self.path:
                sys.stderr.write(f"estiba-runtime: debug: {message}\n")
