"""The debian image builder's checks that need neither root nor debootstrap."""

from __future__ import annotations

import pytest

from estiba.errors import FailedPrecondition
from estiba.images import debian


def test_missing_debootstrap_is_a_clear_error(tmp_path):
    with pytest.raises(FailedPrecondition, match="not installed.*apt-get install"):
        debian.debootstrap(str(tmp_path / "rootfs"), program="no-such-debootstrap")


def test_unescape_mountinfo_fields():
    assert debian._unescape(r"/a\040b\134c") == "/a b\\c"
