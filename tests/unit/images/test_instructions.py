"""Dockerfile change instructions (``docker import --change``): parsing, each keyword's
effect on a container config, variable expansion, and the errors."""

from __future__ import annotations

import copy

import pytest

from estiba.errors import InvalidArgument, Unimplemented
from estiba.images.instructions import (
    Instruction,
    apply,
    apply_changes,
    expand,
    parse,
    parse_changes,
    port_keys,
    split_words,
    valid_signal,
)


def change(*lines: str, config: dict | None = None) -> dict:
    return apply_changes(config or {}, lines)


# --- parsing ---------------------------------------------------------------------------


def test_parse_skips_comments_and_blank_lines_and_joins_continuations() -> None:
    text = "# a comment\n\nENV A=1 \\\n  B=2\ncmd echo \\\n# inside\n hi\n"
    assert parse(text) == [
        Instruction(keyword="env", args="A=1   B=2", original="ENV A=1   B=2", line=3),
        Instruction(keyword="cmd", args="echo  hi", original="cmd echo  hi", line=5),
    ]


def test_parse_takes_a_tab_after_the_keyword() -> None:
    (ins,) = parse("USER\tnobody")
    assert (ins.keyword, ins.args) == ("user", "nobody")


def test_changes_are_joined_with_newlines_as_docker_does() -> None:
    assert [i.keyword for i in parse_changes(["ENV A=1\nUSER x", "WORKDIR /w"])] == [
        "env", "user", "workdir"]


@pytest.mark.parametrize("line", ["RUN echo hi", "run echo hi", "FROM scratch", "COPY a b",
                                  "ADD a b", "ARG x", "SHELL [\"/bin/bash\"]", "BOGUS x"])
def test_other_instructions_are_not_valid_change_commands(line: str) -> None:
    keyword = line.split()[0]
    with pytest.raises(InvalidArgument, match=f"^{keyword} is not a valid change command$"):
        parse_changes([line])


def test_healthcheck_is_not_supported_yet() -> None:
    with pytest.raises(Unimplemented, match="healthcheck"):
        parse_changes(["HEALTHCHECK CMD true"])


def test_keywords_are_case_insensitive() -> None:
    assert change("cmd [\"a\"]", "Env A=1", "wOrKdIr /x") == {
        "Cmd": ["a"], "Env": ["A=1"], "WorkingDir": "/x"}


def test_no_changes_copy_the_config() -> None:
    config = {"Env": ["A=1"], "Labels": {"x": "y"}}
    out = apply_changes(config, [])
    assert out == config and out is not config


def test_the_input_config_is_not_changed() -> None:
    config = {"Env": ["A=1"], "Labels": {"x": "y"}, "ExposedPorts": {"1/tcp": {}},
              "Volumes": {"/v": {}}, "OnBuild": ["RUN a"], "Cmd": ["c"]}
    before = copy.deepcopy(config)
    apply_changes(config, ["ENV A=2 B=3", "LABEL x=z", "EXPOSE 2", "VOLUME /w",
                           "ONBUILD RUN b", "ENTRYPOINT e"])
    assert config == before


@pytest.mark.parametrize("line", ["CMD", "ENV", "LABEL", "EXPOSE", "VOLUME", "USER",
                                  "WORKDIR", "STOPSIGNAL", "ONBUILD", "ENTRYPOINT  "])
def test_a_keyword_alone_is_refused(line: str) -> None:
    with pytest.raises(InvalidArgument, match="requires at least one argument"):
        change(line)


def test_apply_refuses_an_unknown_instruction() -> None:
    with pytest.raises(InvalidArgument, match="unknown instruction"):
        apply({}, parse("RUN x"))


# --- CMD and ENTRYPOINT ----------------------------------------------------------------


def test_cmd_json_form() -> None:
    assert change('CMD ["/bin/sh", "-c", "echo $HOME"]') == {
        "Cmd": ["/bin/sh", "-c", "echo $HOME"]}


def test_cmd_shell_form_runs_through_sh_unexpanded() -> None:
    assert change("CMD echo $HOME  'a b'") == {"Cmd": ["/bin/sh", "-c", "echo $HOME  'a b'"]}


def test_shell_form_uses_the_configs_shell() -> None:
    out = change("CMD echo hi", config={"Shell": ["/bin/bash", "-lc"]})
    assert out["Cmd"] == ["/bin/bash", "-lc", "echo hi"]


def test_text_starting_with_a_bracket_that_is_not_json_is_the_shell_form() -> None:
    # the shell's test command, as Docker reads it
    assert change("CMD [ -f /x ] && echo y")["Cmd"] == ["/bin/sh", "-c", "[ -f /x ] && echo y"]


@pytest.mark.parametrize("line", ['CMD ["a", 1]', "CMD [1]", 'ENTRYPOINT [["a"]]'])
def test_json_that_is_not_an_array_of_strings_is_refused(line: str) -> None:
    with pytest.raises(InvalidArgument, match="array of strings"):
        change(line)


def test_empty_json_cmd_clears_the_arguments() -> None:
    assert change("CMD []", config={"Cmd": ["x"]}) == {"Cmd": []}


def test_cmd_drops_args_escaped() -> None:
    assert change('CMD ["a"]', config={"ArgsEscaped": True}) == {"Cmd": ["a"]}


def test_entrypoint_resets_the_inherited_cmd() -> None:
    out = change('ENTRYPOINT ["/app"]', config={"Cmd": ["old"]})
    assert out == {"Entrypoint": ["/app"]}


def test_entrypoint_keeps_a_cmd_set_before_it_in_the_same_changes() -> None:
    out = change('CMD ["--help"]', 'ENTRYPOINT ["/app"]', config={"Cmd": ["old"]})
    assert out == {"Cmd": ["--help"], "Entrypoint": ["/app"]}


def test_cmd_after_entrypoint_sets_the_arguments() -> None:
    out = change("ENTRYPOINT /app", 'CMD ["x"]')
    assert out == {"Entrypoint": ["/bin/sh", "-c", "/app"], "Cmd": ["x"]}


def test_an_empty_cmd_does_not_count_as_set() -> None:
    out = change("CMD []", 'ENTRYPOINT ["/app"]', config={"Cmd": ["old"]})
    assert out == {"Entrypoint": ["/app"]}


# --- ENV and LABEL ---------------------------------------------------------------------


def test_env_pairs_with_quotes_and_escapes() -> None:
    out = change(r'ENV A=1 B="v 2" C=\"q\" D=a\ b E= F=\'s\'')
    assert out["Env"] == ["A=1", "B=v 2", 'C="q"', "D=a b", "E=", "F='s'"]


def test_env_legacy_form_takes_the_rest_of_the_line() -> None:
    assert change("ENV K v  w")["Env"] == ["K=v  w"]


def test_env_replaces_an_entry_with_the_same_key_in_place() -> None:
    out = change("ENV B=9 C=3", config={"Env": ["A=1", "B=2", "BB=4"]})
    assert out["Env"] == ["A=1", "B=9", "BB=4", "C=3"]


def test_env_values_expand_against_the_env_before_the_instruction() -> None:
    out = change("ENV A=new B=$A", "ENV C=${A}-x", config={"Env": ["A=old"]})
    assert out["Env"] == ["A=new", "B=old", "C=new-x"]


def test_env_expansion_forms() -> None:
    out = change(
        "ENV P=${PATH}:/x U=${UNSET:-def} S=${PATH:+set} N=${UNSET:+no} L='$PATH' "
        r'E=\$PATH Q="$PATH"',
        config={"Env": ["PATH=/bin"]})
    assert out["Env"] == ["PATH=/bin", "P=/bin:/x", "U=def", "S=set", "N=", "L=$PATH",
                          "E=$PATH", "Q=/bin"]


def test_env_without_value_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="ENV must have two arguments"):
        change("ENV K")


def test_env_pairs_need_an_equals_sign_each() -> None:
    with pytest.raises(InvalidArgument, match="no '=' in 'B'"):
        change("ENV A=1 B")


def test_env_names_can_not_be_blank() -> None:
    with pytest.raises(InvalidArgument, match="names can not be blank"):
        change("ENV =x")


def test_env_with_an_unclosed_quote_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="double-quote"):
        change('ENV A="x')


def test_label_pairs_merge_into_labels() -> None:
    out = change('LABEL a=1 "b c"="d e" a.b=\'x y\'', "LABEL legacy value here",
                 config={"Labels": {"a": "0", "keep": "k"}})
    assert out["Labels"] == {"a": "1", "keep": "k", "b c": "d e", "a.b": "x y",
                             "legacy": "value here"}


def test_label_without_value_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="LABEL must have two arguments"):
        change("LABEL a")


# --- EXPOSE ----------------------------------------------------------------------------


def test_expose_ports_protocols_and_ranges() -> None:
    out = change("EXPOSE 80 443/udp 8000-8002 53/SCTP", config={"ExposedPorts": {"22/tcp": {}}})
    assert out["ExposedPorts"] == {
        "22/tcp": {}, "80/tcp": {}, "443/udp": {}, "8000/tcp": {}, "8001/tcp": {},
        "8002/tcp": {}, "53/sctp": {}}


def test_expose_expands_a_variable_into_several_ports() -> None:
    out = change("EXPOSE $PORTS", config={"Env": ["PORTS=80 81/udp"]})
    assert out["ExposedPorts"] == {"80/tcp": {}, "81/udp": {}}


def test_expose_of_a_mapping_exposes_the_container_port() -> None:
    assert port_keys("8080:80") == ["80/tcp"]
    assert port_keys("127.0.0.1:8080:80/udp") == ["80/udp"]


@pytest.mark.parametrize("spec", ["http", "80/icmp", "70000", "9-3", "-1", "1-", "８０"])
def test_expose_refuses_bad_ports(spec: str) -> None:
    with pytest.raises(InvalidArgument, match="invalid"):
        change(f"EXPOSE {spec}")


# --- VOLUME, USER, WORKDIR, STOPSIGNAL, ONBUILD ----------------------------------------


def test_volume_space_list_and_json_form() -> None:
    out = change("VOLUME /a /b", 'VOLUME ["/c d", "/$X"]', config={"Env": ["X=e"]})
    assert out["Volumes"] == {"/a": {}, "/b": {}, "/c d": {}, "/e": {}}


@pytest.mark.parametrize("line", ['VOLUME ["/a", ', "VOLUME [/a]"])
def test_volume_with_a_bad_json_array_is_refused(line: str) -> None:
    with pytest.raises(InvalidArgument, match="not a valid json array"):
        change(line)


def test_volume_paths_can_not_be_empty() -> None:
    with pytest.raises(InvalidArgument, match="volume path is empty"):
        change('VOLUME ["/a", ""]')


def test_user_is_expanded() -> None:
    assert change("USER $U:staff", config={"Env": ["U=app"]})["User"] == "app:staff"


def test_workdir_absolute_and_relative_to_the_previous_one() -> None:
    assert change("WORKDIR /app")["WorkingDir"] == "/app"
    assert change("WORKDIR /a", "WORKDIR b", "WORKDIR ../c/./d")["WorkingDir"] == "/a/c/d"
    assert change("WORKDIR rel")["WorkingDir"] == "/rel"
    assert change("WORKDIR $D/x", config={"Env": ["D=/srv"]})["WorkingDir"] == "/srv/x"


def test_workdir_that_expands_to_nothing_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="directory is empty"):
        change("WORKDIR $NOTHING")


@pytest.mark.parametrize("sig", ["SIGTERM", "term", "SIGRTMIN+3", "9", "sigusr1"])
def test_stopsignal_accepts_names_and_numbers(sig: str) -> None:
    assert change(f"STOPSIGNAL {sig}")["StopSignal"] == sig


@pytest.mark.parametrize("sig", ["SIGNOPE", "0", "-9", "RTMIN+99"])
def test_stopsignal_refuses_unknown_signals(sig: str) -> None:
    assert not valid_signal(sig)
    with pytest.raises(InvalidArgument, match="invalid signal"):
        change(f"STOPSIGNAL {sig}")


def test_onbuild_appends_the_raw_instruction() -> None:
    out = change("ONBUILD RUN echo $HOME", "onbuild   COPY . /src",
                 config={"OnBuild": ["RUN first"]})
    assert out["OnBuild"] == ["RUN first", "RUN echo $HOME", "COPY . /src"]


@pytest.mark.parametrize("line,reason", [
    ("ONBUILD ONBUILD RUN x", "chaining"),
    ("ONBUILD FROM x", "FROM is not allowed"),
    ("ONBUILD maintainer me", "MAINTAINER is not allowed"),
])
def test_onbuild_refuses_forbidden_triggers(line: str, reason: str) -> None:
    with pytest.raises(InvalidArgument, match=reason):
        change(line)


# --- words and expansion ---------------------------------------------------------------


def test_split_words_keeps_quotes_for_expansion() -> None:
    assert split_words(r'a="b c"  d=\'e  f=g\ h') == ['a="b c"', r"d=\'e", r"f=g\ h"]
    assert split_words("'' x") == ["''", "x"]


@pytest.mark.parametrize("word,expected", [
    ("plain", "plain"),
    ("$A", "1"),
    ("${A}b", "1b"),
    ("$Ab", ""),
    ("${UNSET-d}", "d"),
    ("${EMPTY-d}", ""),
    ("${EMPTY:-d}", "d"),
    ("${EMPTY+s}", "s"),
    ("${A:+${A}x}", "1x"),
    ("cost $5", "cost "),
    ("a$", "a$"),
    ("$ b", "$ b"),
    (r'"a\"b\\c\d"', r'a"b\c\d'),
    ("'$A \\'", "$A \\"),
    (r"\$A", "$A"),
])
def test_expand(word: str, expected: str) -> None:
    assert expand(word, ["A=1", "EMPTY=", "A=shadowed"]) == expected


@pytest.mark.parametrize("word,reason", [
    ("${A", "missing '}'"),
    ("${A:-x", "looking for }"),
    ("${A:", "missing '}'"),
    ("${}", "bad substitution"),
    ("${A%x}", "unsupported modifier"),
    ("${UNSET:?must be set}", "must be set"),
    ("'open", "single-quote"),
])
def test_expand_errors(word: str, reason: str) -> None:
    with pytest.raises(InvalidArgument, match=reason):
        expand(word, ["A=1"])


def test_an_expansion_error_names_the_instruction() -> None:
    with pytest.raises(InvalidArgument, match="instruction 'USER \\$\\{U:\\?need a user\\}'"):
        change("USER ${U:?need a user}")
