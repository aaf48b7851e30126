"""Hostile layers: no entry may create or change anything outside the destination.

Every test snapshots the sentinel tree beside ``dest`` (``outside``) and the host paths
an attack aims at, applies the layer, and checks they are unchanged. Names that escape
lexically (``..`` above dest) and hard links to what is not in dest raise
InvalidArgument; symlinks met on the way are resolved inside dest, as the container
would see them, so an attack through them lands inside dest."""

from __future__ import annotations

import os
import secrets

import pytest
from layer_tars import dir_, hard, reg, sym, tar_bytes, tree

from estiba.errors import InvalidArgument

pytestmark = pytest.mark.root




@pytest.fixture
def guarded(work):
    """The work dirs; afterwards, asserts the sentinel tree and /etc are unchanged."""
    before = tree(work.outside)
    etc = sorted(os.listdir("/etc"))
    passwd = os.lstat("/etc/passwd")
    yield work
    assert tree(work.outside) == before
    assert sorted(os.listdir("/etc")) == etc
    after = os.lstat("/etc/passwd")
    assert (after.st_ino, after.st_nlink, after.st_mtime_ns, after.st_mode) == (
        passwd.st_ino, passwd.st_nlink, passwd.st_mtime_ns, passwd.st_mode)


@pytest.mark.parametrize(
    "name", ["../outside/file", "../outside/new", "../../x", "a/../../outside/file",
             "/../outside/file", "./../outside/sub"],
)
def test_dotdot_escape_is_refused(guarded, name: str) -> None:
    with pytest.raises(InvalidArgument, match="escapes the destination"):
        guarded.apply(tar_bytes(reg(name, b"pwned")))
    assert os.listdir(guarded.dest) == []


def test_dotdot_escape_of_a_directory_and_symlink_is_refused(guarded) -> None:
    for entry in (dir_("../outside/newdir"), sym("../outside/link", "/"),
                  reg("../outside/.wh.file"), reg("../outside/.wh..wh..opq")):
        with pytest.raises(InvalidArgument, match="escapes the destination"):
            guarded.apply(tar_bytes(entry))


def test_absolute_path_lands_inside_dest(guarded) -> None:
    name = f"estiba-test-{secrets.token_hex(4)}"
    guarded.apply(tar_bytes(reg(f"/etc/{name}", b"inside"), reg("/etc/passwd", b"inside too")))
    assert (guarded.dest / "etc" / name).read_bytes() == b"inside"
    assert (guarded.dest / "etc/passwd").read_bytes() == b"inside too"
    assert not os.path.lexists(f"/etc/{name}")


def test_write_through_symlink_to_absolute_dir_stays_inside(guarded) -> None:
    guarded.apply(tar_bytes(sym("a", "/etc"), reg("a/passwd", b"pwned"),
                    sym("o", str(guarded.outside)), reg("o/file", b"pwned")))
    assert (guarded.dest / "etc/passwd").read_bytes() == b"pwned"
    assert (guarded.dest / str(guarded.outside).lstrip("/") / "file").read_bytes() == b"pwned"
    assert os.readlink(guarded.dest / "a") == "/etc"


def test_write_through_relative_symlink_climbing_out_stays_inside(guarded) -> None:
    guarded.apply(tar_bytes(sym("up", "../../../../.."), reg("up/outside/file", b"pwned"),
                    dir_("d"), sym("d/up", "../../outside"), reg("d/up/new", b"pwned")))
    assert (guarded.dest / "outside/file").read_bytes() == b"pwned"
    assert (guarded.dest / "outside/new").read_bytes() == b"pwned"


def test_write_through_symlink_chain_stays_inside(guarded) -> None:
    guarded.apply(tar_bytes(sym("l1", "l2"), sym("l2", "d/l3"), dir_("d"),
                    sym("d/l3", f"../{'../' * 5}{guarded.outside}"),
                    reg("l1/file", b"pwned"), reg("l1/sub/deep", b"pwned")))
    landed = guarded.dest / str(guarded.outside).lstrip("/")
    assert (landed / "file").read_bytes() == b"pwned"
    assert (landed / "sub/deep").read_bytes() == b"pwned"


def test_symlink_loop_is_refused(guarded) -> None:
    with pytest.raises(InvalidArgument, match="too many levels of symbolic links"):
        guarded.apply(tar_bytes(sym("l1", "l2"), sym("l2", "l1"), reg("l1/x", b"x")))


def test_symlink_planted_by_a_lower_layer(guarded) -> None:
    os.symlink(guarded.outside, guarded.dest / "planted")
    os.symlink(guarded.outside / "file", guarded.dest / "planted-file")
    guarded.apply(tar_bytes(reg("planted/file", b"pwned"), reg("planted/sub/deep", b"pwned"),
                    reg("planted/.wh.link"), reg("planted/sub/.wh..wh..opq"),
                    reg("planted-file", b"replaces the link")))
    assert not (guarded.dest / "planted-file").is_symlink()
    assert (guarded.dest / "planted-file").read_bytes() == b"replaces the link"


def test_symlinked_dir_replaced_by_file_and_dir(guarded) -> None:
    guarded.apply(tar_bytes(sym("d", str(guarded.outside)), sym("e", str(guarded.outside / "sub")),
                    sym("f", str(guarded.outside / "file"))))
    guarded.apply(tar_bytes(reg("d", b"file now"), dir_("e", mode=0o700), reg("e/deep", b"pwned"),
                    reg("f", b"pwned")))
    assert (guarded.dest / "d").read_bytes() == b"file now"
    assert (guarded.dest / "e/deep").read_bytes() == b"pwned"
    assert (guarded.dest / "f").read_bytes() == b"pwned"


def test_whiteouts_through_symlinks_stay_inside(guarded) -> None:
    guarded.apply(tar_bytes(sym("o", str(guarded.outside)), sym("r", "../outside")))
    guarded.apply(tar_bytes(reg("o/.wh.file"), reg("o/.wh.sub"), reg("o/.wh..wh..opq"),
                    reg("r/.wh.file"), reg("r/.wh..wh..opq"), reg(".wh.o")))
    assert not os.path.lexists(guarded.dest / "o")


@pytest.mark.parametrize("target", ["/etc/passwd", "../outside/file", "../../etc/passwd",
                                    "etc/passwd", "o/file", "o/sub/deep", "link"])
def test_hard_link_outside_is_refused(guarded, target: str) -> None:
    os.symlink(guarded.outside, guarded.dest / "o")
    with pytest.raises(InvalidArgument, match="layer entry 'h'"):
        guarded.apply(tar_bytes(hard("h", target)))
    assert not os.path.lexists(guarded.dest / "h")


def test_hard_link_to_a_symlink_links_the_symlink(guarded) -> None:
    guarded.apply(tar_bytes(sym("s", "/etc/passwd"), hard("h", "s"), reg("x", b"x"),
                    hard("d/h2", "x")))
    assert os.readlink(guarded.dest / "h") == "/etc/passwd"
    assert (guarded.dest / "s").lstat().st_ino == (guarded.dest / "h").lstat().st_ino
    assert (guarded.dest / "d/h2").read_bytes() == b"x"


def test_hard_link_through_a_symlink_parent_resolves_inside(guarded) -> None:
    guarded.apply(tar_bytes(dir_("real"), reg("real/f", b"f"), sym("via", "/real"),
                    hard("h", "via/f")))
    assert (guarded.dest / "h").lstat().st_ino == (guarded.dest / "real/f").lstat().st_ino


def test_file_under_a_file_is_refused(guarded) -> None:
    with pytest.raises(InvalidArgument, match="is not a directory"):
        guarded.apply(tar_bytes(reg("f", b"f"), reg("f/x", b"x")))


def test_whiteout_of_dotdot_is_refused(guarded) -> None:
    with pytest.raises(InvalidArgument, match="whiteout"):
        guarded.apply(tar_bytes(dir_("d"), reg("d/.wh..."), reg("d/.wh.")))
    assert (guarded.dest / "d").is_dir()


def test_device_as_non_root_is_refused(guarded) -> None:
    """mknod goes through the kernel boundary, which refuses it without CAP_MKNOD."""
    import subprocess
    import sys

    os.chmod(guarded.root, 0o755)  # mkdtemp made it 0700
    os.chown(guarded.dest, 65534, 65534)
    script = (
        "import io, sys, tarfile\n"
        "from estiba.errors import PermissionDenied\n"
        "from estiba.images import apply_layer\n"
        "out = io.BytesIO()\n"
        "with tarfile.open(fileobj=out, mode='w') as tar:\n"
        "    info = tarfile.TarInfo('null'); info.type = tarfile.CHRTYPE\n"
        "    info.devmajor, info.devminor = 1, 3; tar.addfile(info)\n"
        "out.seek(0)\n"
        "try:\n"
        "    apply_layer(out, sys.argv[1])\n"
        "except PermissionDenied as err:\n"
        "    print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(guarded.dest)], user=65534,
                          group=65534, extra_groups=[], capture_output=True, text=True,
                          check=True, cwd="/")
    assert done.stdout.startswith("mknod /proc/self/fd/"), done.stderr
    assert "operation not permitted" in done.stdout
    assert os.listdir(guarded.dest) == []
