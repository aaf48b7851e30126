"""Small parsers of the command line: signals, sizes, container ids."""

import pytest

from estiba.errors import InvalidArgument
from estiba.runtime.container import check_id
from estiba.runtime.update import merge, parse_size
from estiba.signals import parse_signal


@pytest.mark.parametrize("text,number", [
    ("KILL", 9), ("SIGKILL", 9), ("kill", 9), ("9", 9), ("15", 15), ("SIGUSR1", 10),
    ("TERM", 15), ("RTMIN+2", 36), ("SIGRTMAX", 64),
])
def test_signals(text, number):
    assert parse_signal(text) == number


@pytest.mark.parametrize("text", ["", "SIGNOPE", "0", "65", "RTMIN+40", "-1"])
def test_bad_signals(text):
    with pytest.raises(InvalidArgument):
        parse_signal(text)


def test_sizes():
    assert parse_size("64m") == 64 << 20
    assert parse_size("1g") == 1 << 30
    assert parse_size("512K") == 512 << 10
    assert parse_size("100") == 100
    assert parse_size("10mb") == 10 << 20
    assert parse_size("-1") == -1
    with pytest.raises(InvalidArgument):
        parse_size("lots")


def test_update_flags_override_the_json():
    merged = merge({"memory": {"limit": 1}, "pids": {"limit": 5}},
                   {"memory": "2m", "pids_limit": None, "cpu_quota": "5000"})
    assert merged == {"memory": {"limit": 2 << 20}, "pids": {"limit": 5},
                      "cpu": {"quota": 5000}}


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a b", "x\0"])
def test_bad_ids(bad):
    with pytest.raises(InvalidArgument):
        check_id(bad)


def test_good_ids():
    check_id("a" * 64)
    check_id("my-container_1.2+x")
