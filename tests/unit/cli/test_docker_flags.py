"""The docker-compatible commands' flag parser: pflag's grammar and messages."""

from __future__ import annotations

import pytest

from estiba.cli.docker.flags import (
    ArgumentsError,
    Flag,
    UsageError,
    between,
    count,
    exact,
    filters,
    given,
    int_value,
    parse,
)

FLAGS = (Flag("all", "a"), Flag("quiet", "q"), Flag("format", "f", value=True),
         Flag("filter", repeat=True), Flag("no-trunc"), Flag("last", "n", value=True))


def test_long_forms_and_defaults() -> None:
    opts, args = parse(["--all", "--format", "x", "--last=3"], FLAGS)
    assert opts == {"all": True, "quiet": False, "format": "x", "filter": [],
                    "no_trunc": False, "last": "3"}
    assert args == []


def test_combined_short_booleans_and_short_values() -> None:
    opts, _ = parse(["-aq"], FLAGS)
    assert opts["all"] is True and opts["quiet"] is True
    assert parse(["-f", "x"], FLAGS)[0]["format"] == "x"
    assert parse(["-fx"], FLAGS)[0]["format"] == "x"
    assert parse(["-f=x"], FLAGS)[0]["format"] == "x"
    assert parse(["-aqn2"], FLAGS)[0]["last"] == "2"


def test_repeatable_and_interspersed_and_double_dash() -> None:
    opts, args = parse(["one", "--filter", "a=1", "two", "--filter=b=2", "--", "-a"],
                       FLAGS)
    assert opts["filter"] == ["a=1", "b=2"]
    assert args == ["one", "two", "-a"]
    assert opts["all"] is False
    assert parse(["-"], FLAGS)[1] == ["-"]


def test_boolean_with_explicit_value() -> None:
    assert parse(["--no-trunc=true"], FLAGS)[0]["no_trunc"] is True
    assert parse(["--all=false"], FLAGS)[0]["all"] is False
    with pytest.raises(UsageError, match='invalid argument "maybe" for "-a, --all" flag'):
        parse(["--all=maybe"], FLAGS)


@pytest.mark.parametrize(("argv", "message"), [
    (["--bogus"], "unknown flag: --bogus"),
    (["--bogus=1"], "unknown flag: --bogus"),
    (["-z"], "unknown shorthand flag: 'z' in -z"),
    (["-qz"], "unknown shorthand flag: 'z' in -z"),
    (["--format"], "flag needs an argument: --format"),
    (["-f"], "flag needs an argument: 'f' in -f"),
    (["-af"], "flag needs an argument: 'f' in -f"),
])
def test_errors_in_pflag_words(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse(argv, FLAGS)
    assert str(caught.value) == message
    assert caught.value.status == 125


def test_argument_counts_exit_one() -> None:
    count("ps", [], 0, 0)
    with pytest.raises(ArgumentsError) as caught:
        count("ps", ["x"], 0, 0)
    assert str(caught.value) == "'estiba ps' accepts no arguments"
    assert caught.value.status == 1
    with pytest.raises(ArgumentsError, match="requires at least 1 argument$"):
        count("rm", [], 1, None)
    with pytest.raises(ArgumentsError, match="requires at most 1 argument$"):
        count("images", ["a", "b"], 0, 1)


def test_exact_and_range_counts_say_run() -> None:
    exact("rename", ["a", "b"], 2)
    with pytest.raises(ArgumentsError) as caught:
        exact("logs", [], 1)
    assert (str(caught.value), caught.value.hint, caught.value.status) \
        == ("'estiba logs' requires 1 argument", "Run", 1)
    with pytest.raises(ArgumentsError, match="'estiba tag' requires 2 arguments$"):
        exact("tag", ["a"], 2)
    between("port", ["a"], 1, 2)
    with pytest.raises(ArgumentsError) as caught:
        between("port", ["a", "b", "c"], 1, 2)
    assert (str(caught.value), caught.value.hint) \
        == ("'estiba port' requires at least 1 and at most 2 arguments", "Run")


def test_default_true_and_hidden_flags() -> None:
    flags = (Flag("pause", "p", default=True), Flag("time", kind="int", hidden=True))
    assert parse([], flags)[0] == {"pause": True, "time": None}
    assert parse(["-p=false", "--time", "3"], flags)[0] == {"pause": False, "time": "3"}
    assert parse(["--pause"], flags)[0]["pause"] is True


def test_filters_name_their_flag() -> None:
    assert filters(["a=1", "A=2", "b=x=y"]) == {"a": ["1", "2"], "b": ["x=y"]}
    with pytest.raises(UsageError) as caught:
        filters(["nokey"])
    assert str(caught.value) == ('invalid argument "nokey" for "-f, --filter" flag: bad '
                                 "format of filter (expected name=value)")
    with pytest.raises(UsageError, match='for "--filter" flag: bad format'):
        filters(["nokey"], "--filter")  # a prune's --filter has no -f


def test_int_values_as_pflag_reads_them() -> None:
    last = FLAGS[-1]
    assert int_value(last, "0x10") == 16 and int_value(last, "-1") == -1
    for text in ("x", " 5", "1.5"):
        with pytest.raises(UsageError) as caught:
            int_value(last, text)
        assert str(caught.value) == (f'invalid argument "{text}" for "-n, --last" flag: '
                                     f'strconv.ParseInt: parsing "{text}": invalid syntax')


def test_given_tells_a_flag_from_a_value() -> None:
    assert given(["x", "--all=false"], FLAGS, "all", interspersed=True)
    assert not given(["x", "--all"], FLAGS, "all")  # run's: flags end at the image
    assert not given(["--format", "--all"], FLAGS, "all", interspersed=True)
    assert not given(["-f", "-a"], FLAGS, "all") and given(["-qa"], FLAGS, "all")
    assert not given(["--", "--all"], FLAGS, "all", interspersed=True)


def test_not_interspersed_stops_at_the_first_positional() -> None:
    opts, args = parse(["-a", "busybox", "ls", "-q", "--filter", "x", "--"], FLAGS,
                       interspersed=False)
    assert opts["all"] is True and opts["quiet"] is False and opts["filter"] == []
    assert args == ["busybox", "ls", "-q", "--filter", "x", "--"]
    assert parse(["--", "-a", "-q"], FLAGS, interspersed=False)[1] == ["-a", "-q"]
