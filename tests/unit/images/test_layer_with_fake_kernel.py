"""apply_layer without root: the privileged calls (chown, mknod) go to the recording
kernel, everything else happens in a temporary directory."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

from estiba.images import apply_layer
from estiba.kernel.fake import RecordingKernel


def _tar(*entries: tuple[str, bytes, bytes, int]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data, uid in entries:
            info = tarfile.TarInfo(name)
            info.type, info.uid, info.gid, info.mode = kind, uid, uid + 1, 0o755
            if kind == tarfile.SYMTYPE:
                info.linkname = data.decode()
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_apply_records_ownership_through_the_kernel(tmp_path: Path) -> None:
    kernel = RecordingKernel()
    layer = _tar(("d", tarfile.DIRTYPE, b"", 10), ("d/f", tarfile.REGTYPE, b"data", 20),
                 ("d/l", tarfile.SYMTYPE, b"f", 30), ("d/.wh.gone", tarfile.REGTYPE, b"", 0))
    (tmp_path / "d").mkdir()
    (tmp_path / "d/gone").write_bytes(b"lower")
    result = apply_layer(io.BytesIO(layer), tmp_path, kernel=kernel)

    assert result.diff_id == "sha256:" + hashlib.sha256(layer).hexdigest()
    assert sorted(os.listdir(tmp_path / "d")) == ["f", "l"]
    assert (tmp_path / "d/f").read_bytes() == b"data"
    assert os.readlink(tmp_path / "d/l") == "f"
    assert kernel.names() == ["chown", "chown", "chown"]
    owners = [(path.rpartition("/")[2], uid, gid) for path, uid, gid in kernel.called("chown")]
    assert owners == [("d", 10, 11), ("f", 20, 21), ("l", 30, 31)]
    assert all(path.startswith("/proc/self/fd/") for path, _, _ in kernel.called("chown"))
