"""Users of a Config as runc's lookup resolves them in the rootfs's /etc/passwd and
/etc/group (pure)."""

from __future__ import annotations

import pytest

from estiba import errors
from estiba.core.spec import numeric_user, resolve_user

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "nobody:x:65534:65533:nobody:/:/bin/false\n"
          "app:x:1000:1000::/home/app:/bin/sh\n")
GROUP = "root:x:0:\nnogroup:x:65533:\nstaff:x:50:app,other\napp:x:1000:\naudio:x:63:app\n"


def test_numeric_users_need_no_lookup() -> None:
    assert all(numeric_user(u) for u in ("", "root", "0", "1000", "7:8", "root:0"))
    assert not any(numeric_user(u) for u in ("nobody", "1000:staff", "app:1"))


@pytest.mark.parametrize(("user", "want"), [
    ("", (0, 0, [])),
    ("nobody", (65534, 65533, [])),
    ("65534", (65534, 65533, [])),  # a uid of passwd takes its gid
    ("4242", (4242, 0, [])),  # one that is not keeps gid 0
    ("nobody:staff", (65534, 50, [])),
    ("7:8", (7, 8, [])),
    ("app", (1000, 1000, [50, 63])),  # and the groups that list it
    ("app:staff", (1000, 50, [63])),
])
def test_resolve_user(user: str, want: tuple[int, int, list[int]]) -> None:
    assert resolve_user(user, PASSWD, GROUP) == want


def test_unknown_names_are_refused() -> None:
    with pytest.raises(errors.InvalidArgument, match="unable to find user ghost"):
        resolve_user("ghost", PASSWD, GROUP)
    with pytest.raises(errors.InvalidArgument, match="unable to find group ghosts"):
        resolve_user("root:ghosts", PASSWD, GROUP)
