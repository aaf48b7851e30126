"""Mount option parsing and resolution of paths inside a rootfs (no root needed)."""

import pytest

from estiba.errors import InvalidArgument
from estiba.kernel import consts as k
from estiba.runtime.mounts import clean, parse_options, secure_join


def test_flags_data_and_propagation_are_split():
    opts = parse_options(["nosuid", "noexec", "mode=755", "size=65536k", "rprivate", "ro"])
    assert opts.flags == k.MS_NOSUID | k.MS_NOEXEC | k.MS_RDONLY
    assert opts.data == "mode=755,size=65536k"
    assert opts.propagation == (k.MS_PRIVATE | k.MS_REC,)


def test_later_option_wins():
    assert parse_options(["ro", "rw"]).flags == 0
    assert parse_options(["rbind"]).flags == k.MS_BIND | k.MS_REC


def test_unsupported_option_is_refused():
    with pytest.raises(InvalidArgument, match="tmpcopyup"):
        parse_options(["tmpcopyup"])


def tree(links):
    def readlink(path):
        if path in links:
            return links[path]
        raise OSError(22, "not a link")
    return readlink


def test_plain_path():
    assert secure_join("/r", "/etc/hosts", tree({})) == "/r/etc/hosts"


def test_dotdot_cannot_leave_the_root():
    assert secure_join("/r", "/../../etc/shadow", tree({})) == "/r/etc/shadow"


def test_absolute_symlink_is_resolved_inside_the_root():
    links = {"/r/etc": "/host/etc"}
    assert secure_join("/r", "/etc/passwd", tree(links)) == "/r/host/etc/passwd"


def test_relative_symlink_climbing_out_stays_inside():
    links = {"/r/a/b": "../../../../../tmp"}
    assert secure_join("/r", "/a/b/x", tree(links)) == "/r/tmp/x"


def test_symlink_loop_is_an_error():
    links = {"/r/a": "/b", "/r/b": "/a"}
    with pytest.raises(InvalidArgument, match="too many levels"):
        secure_join("/r", "/a/x", tree(links))


def test_clean():
    assert clean("//a/./b/../c/") == "/a/c"
    assert clean("/../..") == "/"
