"""``--format`` templates: Go's text/template language, Docker's template functions and
its ``table`` directive; each expected output is what Go and ``docker`` print."""

from __future__ import annotations

import pytest

from estiba.cli.gotemplate import (
    TemplateError,
    is_table,
    parse,
    render_table,
    tabwriter,
)
from estiba.errors import InvalidArgument

CONTAINER = {
    "Id": "4f66ad9a0b2e",
    "Name": "/web",
    "Config": {
        "Image": "nginx:1.25",
        "Env": ["PATH=/usr/bin", "TERM=xterm"],
        "Labels": {"com.example.tier": "front", "app": "web"},
        "Cmd": None,
    },
    "State": {"Running": True, "Paused": False, "ExitCode": 0, "Pid": 4242},
    "Mounts": [],
    "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}},
    "Ratio": 1.5,
    "Size": 1000000.0,
}


def render(template: str, data: object = CONTAINER) -> str:
    return parse(template).render(data)


def error(template: str, data: object = CONTAINER) -> str:
    with pytest.raises(TemplateError) as caught:
        render(template, data)
    return str(caught.value)


class Row:
    """A table row as the CLI builds them: fields are attributes, some are methods."""

    def __init__(self, ID: str, Image: str, Status: str = "Up") -> None:  # noqa: N803
        self.ID, self.Image, self.Status = ID, Image, Status

    def Label(self, name: str) -> str:  # noqa: N802
        return {"tier": "front"}.get(name, "")


# --- text, fields, maps ------------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("plain text", "plain text"),
    ("", ""),
    ("{{.Name}}", "/web"),
    ("{{ .Name }}", "/web"),
    ("{{.Config.Image}}", "nginx:1.25"),
    ("{{.State.Running}} {{.State.Paused}}", "true false"),
    ("{{.State.ExitCode}}/{{.State.Pid}}", "0/4242"),
    ("{{.Config.Labels.app}}", "web"),
    ("{{.Config.Env}}", "[PATH=/usr/bin TERM=xterm]"),
    ("{{.Config.Labels}}", "map[app:web com.example.tier:front]"),
    ("{{.Mounts}}", "[]"),
    ("{{.NetworkSettings.Ports}}", "map[80/tcp:[map[HostIp:0.0.0.0 HostPort:8080]]]"),
])
def test_fields_print_as_go_prints_them(template: str, expected: str) -> None:
    assert render(template) == expected


def test_dot_is_the_data() -> None:
    assert render("{{.}}", "hello") == "hello"
    assert render("{{.}}", [1, "a", None, True]) == "[1 a <nil> true]"
    assert render("{{.}}", {"b": 2, "a": {"c": []}}) == "map[a:map[c:[]] b:2]"


def test_a_missing_map_key_prints_no_value() -> None:
    assert render("{{.Nope}}") == "<no value>"
    assert render("{{.Config.Labels.nope}}") == "<no value>"
    assert render("{{.Nope.Deeper.Still}}") == "<no value>"


def test_a_null_prints_no_value_and_cannot_be_walked_into() -> None:
    assert render("{{.Config.Cmd}}") == "<no value>"
    assert error("{{.Config.Cmd.X}}").endswith("nil pointer evaluating interface {}.X")


def test_a_field_of_a_string_is_an_error() -> None:
    assert error("{{.Name.First}}") == (
        'template: :1:2: executing "" at <.Name.First>: '
        "can't evaluate field First in type string")


def test_objects_are_read_by_attribute_and_methods_are_called() -> None:
    row = Row("abc", "nginx")
    assert render("{{.ID}} {{.Image}}", row) == "abc nginx"
    assert render('{{.Label "tier"}}', row) == "front"
    assert render('{{"tier" | .Label}}', row) == "front"
    assert error("{{.Nope}}", row).endswith("can't evaluate field Nope in type Row")
    assert error("{{.__class__}}", row).endswith("can't evaluate field __class__ in type Row")


def test_a_map_field_given_arguments_is_an_error() -> None:
    assert error('{{.Name "x"}}').endswith("Name is not a method but has arguments")


# --- numbers, literals -------------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("{{.Ratio}}", "1.5"),
    ("{{.Size}}", "1e+06"),
    ("{{123456.0}}", "123456"),
    ("{{1234567.0}}", "1.234567e+06"),
    ("{{0.0001}}", "0.0001"),
    ("{{0.00001}}", "1e-05"),
    ("{{1.0}}", "1"),
    ("{{-2.5}}", "-2.5"),
    ("{{42}} {{-3}} {{+7}}", "42 -3 7"),
    ("{{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}", "31 15 15 5 1000"),
    ("{{1e3}}", "1000"),
    ("{{'a'}} {{'\\n'}}", "97 10"),
    ('{{"tab\\there"}}', "tab\there"),
    ('{{"\\x41\\u00e9\\101"}}', "Aé\x41"),
    ("{{`raw \\n string`}}", "raw \\n string"),
    ("{{true}} {{false}}", "true false"),
])
def test_literals(template: str, expected: str) -> None:
    assert render(template) == expected


def test_nil_is_not_a_command() -> None:
    assert error("{{nil}}").endswith("nil is not a command")


# --- whitespace, comments ----------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("{{23 -}} < {{- 45}}", "23<45"),
    ("a  \n {{- .State.Pid -}} \n\t b", "a4242b"),
    ("{{-3}}", "-3"),
    ("x{{/* a comment */}}y", "xy"),
    ("x {{- /* trimmed */ -}} y", "xy"),
    ("{{/* multi\nline */}}z", "z"),
    ("{{.Name\n}}", "/web"),
])
def test_trimming_and_comments(template: str, expected: str) -> None:
    assert render(template) == expected


# --- control -----------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("{{if .State.Running}}up{{end}}", "up"),
    ("{{if .State.Paused}}paused{{else}}not{{end}}", "not"),
    ("{{if .State.Paused}}a{{else if .State.Running}}b{{else}}c{{end}}", "b"),
    ("{{if .Nope}}a{{else if .Mounts}}b{{else}}c{{end}}", "c"),
    ("{{if .State.ExitCode}}t{{else}}f{{end}}", "f"),
    ("{{if .Config.Cmd}}t{{else}}f{{end}}", "f"),
    ("{{if 0.0}}t{{else}}f{{end}}{{if \"\"}}t{{else}}f{{end}}{{if .Config}}t{{end}}", "fft"),
    ("{{with .Config}}{{.Image}}{{end}}", "nginx:1.25"),
    ("{{with .Nope}}x{{else}}none{{end}}", "none"),
    ("{{with .Nope}}x{{else with .State}}{{.Pid}}{{end}}", "4242"),
    ("{{range .Config.Env}}[{{.}}]{{end}}", "[PATH=/usr/bin][TERM=xterm]"),
    ("{{range $i, $e := .Config.Env}}{{$i}}={{$e}} {{end}}", "0=PATH=/usr/bin 1=TERM=xterm "),
    ("{{range $e := .Config.Env}}{{$e}};{{end}}", "PATH=/usr/bin;TERM=xterm;"),
    ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}", "app=web,com.example.tier=front,"),
    ("{{range .Config.Labels}}{{.}} {{end}}", "web front "),
    ("{{range .Mounts}}x{{else}}no mounts{{end}}", "no mounts"),
    ("{{range .Nope}}x{{else}}nothing{{end}}", "nothing"),
    ("{{range 3}}{{.}}{{end}}", "012"),
    ("{{range $p, $b := .NetworkSettings.Ports}}{{$p}} -> {{(index $b 0).HostPort}}{{end}}",
     "80/tcp -> 8080"),
    ("{{range .Config.Env}}{{if eq . \"TERM=xterm\"}}{{break}}{{end}}{{.}}{{end}}",
     "PATH=/usr/bin"),
    ("{{range .Config.Env}}{{if eq . \"PATH=/usr/bin\"}}{{continue}}{{end}}{{.}}{{end}}",
     "TERM=xterm"),
    ("{{range .Config.Env}}{{$.Name}}{{end}}", "/web/web"),
])
def test_control_structures(template: str, expected: str) -> None:
    assert render(template) == expected


def test_range_over_a_string_is_an_error() -> None:
    assert error("{{range .Name}}{{end}}").endswith("range can't iterate over /web")


# --- variables, pipelines ----------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("{{$}}", str(parse("{{.}}").render(CONTAINER))),
    ("{{$x := .Name}}{{$x}}", "/web"),
    ("{{$x := 1}}{{$x = 2}}{{$x}}", "2"),
    ("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", "2"),
    ("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", "21"),
    ("{{$c := .Config}}{{$c.Image}}", "nginx:1.25"),
    ("{{with $x := .State}}{{$x.Pid}}{{end}}", "4242"),
    ('{{.Name | printf "%s!"}}', "/web!"),
    ('{{.Name | printf "%s-%s" "a"}}', "a-/web"),
    # the piped value comes last: split ":" on "nginx:1.25" gives [":"]
    ('{{.Config.Image | split ":" | len}}', "1"),
    ('{{split .Config.Image ":" | len}}', "2"),
    ("{{(.Config).Image}}", "nginx:1.25"),
    ("{{(index .Config.Env 1)}}", "TERM=xterm"),
    ('{{printf "%v-%v" (len .Config.Env) (upper "x")}}', "2-X"),
    ("{{.Nope | printf \"%v\"}}", "<nil>"),
])
def test_variables_and_pipelines(template: str, expected: str) -> None:
    assert render(template) == expected


def test_variables_go_out_of_scope_at_end() -> None:
    assert error("{{if true}}{{$x := 1}}{{end}}{{$x}}") == 'template: :1: undefined variable "$x"'


# --- functions of Go ---------------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" \"x\"}} {{or 0 \"\"}}", "0 2 x "),
    ("{{not .State.Running}} {{not .Nope}}", "false true"),
    ("{{and .Nope .Nope.X.Y}}", "<no value>"),
    ("{{len .Config.Env}} {{len .Config.Labels}} {{len .Name}} {{len \"é\"}}", "2 2 4 2"),
    ("{{index .Config.Env 0}}", "PATH=/usr/bin"),
    ('{{index .Config.Labels "com.example.tier"}}', "front"),
    ('{{index .Config.Labels "nope"}}', "<no value>"),
    ('{{index .NetworkSettings.Ports "80/tcp" 0 "HostPort"}}', "8080"),
    ("{{index .Config.Env}}", "[PATH=/usr/bin TERM=xterm]"),
    ("{{index .Name 1}}", "119"),
    ("{{slice .Name 1}} {{slice .Name 1 3}} {{slice .Config.Env 1}}", "web we [TERM=xterm]"),
    ('{{print "a" "b"}} {{print 1 2}} {{print "a" 1 2 "b"}}', "ab 1 2 a1 2b"),
    ('{{println "a" 1}}', "a 1\n"),
    ('{{eq .Name "/web"}} {{eq .Name "a" "b" "/web"}} {{eq .Name "a" "b"}}', "true true false"),
    ("{{eq .State.ExitCode 0}} {{eq 1.5 .Ratio}} {{eq .Nope \"x\"}}", "true true false"),
    ("{{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1.5 2.5}}",
     "true true true true false"),
    ('{{html "<a href=\'x\'>&\\"</a>"}}', "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;"),
    ('{{js "it\'s <b>"}}', "it\\'s \\u003Cb\\u003E"),
    ('{{urlquery "a b&c=d/é"}}', "a+b%26c%3Dd%2F%C3%A9"),
])
def test_go_functions(template: str, expected: str) -> None:
    assert render(template) == expected


@pytest.mark.parametrize(("template", "message"), [
    ("{{index .Config.Env 5}}", 'template: :1:2: executing "" at <index .Config.Env 5>: '
                                "error calling index: index out of range: 5"),
    ("{{index .Nope 1}}", "error calling index: index of untyped nil"),
    ("{{index .Config.Env \"a\"}}", "error calling index: cannot index slice/array with type "
                                    "string"),
    ("{{slice .Name 3 1}}", "error calling slice: invalid slice index: 3 > 1"),
    ("{{slice .Name 9}}", "error calling slice: index out of range: 9"),
    ("{{len .State.Pid}}", "error calling len: len of type int"),
    ("{{eq 1 \"1\"}}", "error calling eq: incompatible types for comparison"),
    ("{{eq 1 1.0}}", "error calling eq: incompatible types for comparison"),
    ("{{eq .Config.Env 1}}", "error calling eq: invalid type for comparison"),
    ("{{eq 1}}", "error calling eq: missing argument for comparison"),
    ("{{lt true false}}", "error calling lt: invalid type for comparison"),
    ("{{len 1 2}}", 'template: :1:2: executing "" at <len>: '
                    "wrong number of args for len: want 1 got 2"),
    ("{{not}}", "wrong number of args for not: want 1 got 0"),
    ("{{and}}", "wrong number of args for and: want at least 1 got 0"),
    ("{{printf}}", "wrong number of args for printf: want at least 1 got 0"),
    ("{{.Name | ne 1 2}}", "wrong number of args for ne: want 2 got 3"),
    ("{{upper 1}}", "wrong type for value; expected string; got int"),
    ('{{truncate "abc" "x"}}', "wrong type for value; expected int; got string"),
    ("{{\"x\" 1}}", "can't give argument to non-function \"x\""),
    ("{{.State.Pid | $}}", "can't give argument to non-function $"),
])
def test_function_errors(template: str, message: str) -> None:
    assert error(template).endswith(message)


# --- printf ------------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ('{{printf "%s|%v|%d" "a" "b" 3}}', "a|b|3"),
    ('{{printf "%-10s|%10s|" "left" "right"}}', "left      |     right|"),
    ('{{printf "%5d|%-5d|%05d|%+d" 42 42 -42 42}}', "   42|42   |-0042|+42"),
    ('{{printf "%.2f %f %e %g %G" 3.14159 1.5 1234.5678 0.000012 1e21}}',
     "3.14 1.500000 1.234568e+03 1.2e-05 1E+21"),
    ('{{printf "%v %v" 1e6 100000.0}}', "1e+06 100000"),
    ('{{printf "%q %q" "a\\"b\\n" 65}}', "\"a\\\"b\\n\" 'A'"),
    ('{{printf "%t %v" true false}}', "true false"),
    ('{{printf "%x %X %o %b %c" 255 255 8 5 65}}', "ff FF 10 101 A"),
    ('{{printf "%x" "hi"}}', "6869"),
    ('{{printf "%.3s" "abcdef"}}', "abc"),
    ('{{printf "%*d|%-*d|" 4 1 3 2}}', "   1|2  |"),
    ('{{printf "%d%%" 50}}', "50%"),
    ('{{printf "%v" .Config.Env}} {{printf "%q" .Config.Env}}',
     '[PATH=/usr/bin TERM=xterm] ["PATH=/usr/bin" "TERM=xterm"]'),
    ('{{printf "%s %d %f %t" 1 "x" 2 "y"}}',
     "%!s(int=1) %!d(string=x) %!f(int=2) %!t(string=y)"),
    ('{{printf "%d %s"  1}}', "1 %!s(MISSING)"),
    ('{{printf "%d" 1 "a" 2.5}}', "1%!(EXTRA string=a, float64=2.5)"),
    ('{{printf "%v %s" nil nil}}', "<nil> %!s(<nil>)"),
    ('{{printf "100%"}}', "100%!(NOVERB)"),
    ('{{printf "%z" 1}}', "%!z(int=1)"),
])
def test_printf(template: str, expected: str) -> None:
    assert render(template) == expected


def test_printf_applies_verbs_to_elements() -> None:
    assert render('{{printf "%3d" .}}', [1, 22]) == "[  1  22]"
    assert render('{{printf "%d" .}}', {"a": 1}) == "map[%!d(string=a):1]"


# --- Docker's functions ------------------------------------------------------------------


@pytest.mark.parametrize(("template", "expected"), [
    ("{{json .Config.Env}}", '["PATH=/usr/bin","TERM=xterm"]'),
    ("{{json .Config.Labels}}", '{"app":"web","com.example.tier":"front"}'),
    ("{{json .State}}", '{"ExitCode":0,"Paused":false,"Pid":4242,"Running":true}'),
    ("{{json .Config.Cmd}} {{json .Nope}}", "null null"),
    ("{{json .Mounts}} {{json .Name}}", '[] "/web"'),
    ("{{json .NetworkSettings}}", '{"Ports":{"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}}'),
    ("{{json .Ratio}} {{json .Size}} {{json 1e21}} {{json 1e20}} {{json 0.0000001}}",
     "1.5 1000000 1e+21 100000000000000000000 1e-7"),
    ("{{json 0.000001}} {{json -0.5}} {{json 0.0}} {{json 42}}", "0.000001 -0.5 0 42"),
    ('{{json "<a&b>"}}', '"<a&b>"'),
    ('{{json "é \\u2028 \\t \\x01 \\""}}', '"é \\u2028 \\t \\u0001 \\""'),
    ('{{join .Config.Env ", "}}', "PATH=/usr/bin, TERM=xterm"),
    ('{{join (split "a:b:c" ":") "-"}}', "a-b-c"),
    ('{{split .Config.Image ":"}}', "[nginx 1.25]"),
    ('{{index (split .Config.Image ":") 1}}', "1.25"),
    ('{{split "abc" ""}} {{split "" ","}}', "[a b c] []"),
    ('{{title "hello wide-world foo_bar"}}', "Hello Wide-World Foo_bar"),
    ('{{lower "MiXeD"}} {{upper "MiXeD"}}', "mixed MIXED"),
    ('{{pad "x" 2 3}}|{{pad "" 2 3}}|', "  x   ||"),
    ('{{truncate "abcdef" 3}} {{truncate "ab" 3}} {{truncate "abc" 3}}', "abc ab abc"),
    ('{{.Name | truncate 2}}', "error"),
])
def test_docker_functions(template: str, expected: str) -> None:
    if expected == "error":
        assert error(template).endswith("wrong type for value; expected string; got int")
    else:
        assert render(template) == expected


def test_json_of_nan_is_empty_as_docker_ignores_the_encoder_error() -> None:
    assert render("{{json .}}", float("nan")) == ""


def test_json_of_an_object_keeps_its_field_order() -> None:
    assert render("{{json .}}", Row("abc", "nginx")) == \
        '{"ID":"abc","Image":"nginx","Status":"Up"}'


def test_join_needs_strings() -> None:
    assert error("{{join . \",\"}}", [1, 2]).endswith(
        "wrong type for value; expected []string; got []interface {}")


# --- parse errors ------------------------------------------------------------------------


@pytest.mark.parametrize(("template", "message"), [
    ("{{.Name", "unclosed action"),
    ("{{.Name}", "bad character U+007D '}'"),
    ("{{.Name }", 'unexpected "}" in operand'),
    ("{{foo .Name}}", 'function "foo" not defined'),
    ("{{end}}", "unexpected {{end}}"),
    ("{{else}}", "unexpected {{else}}"),
    ("{{if .Name}}x", "unexpected EOF"),
    ("{{range .Mounts}}x{{else}}y{{else}}z{{end}}", "expected end; found {{else}}"),
    ("{{if}}{{end}}", "missing value for if"),
    ("{{}}", "missing value for command"),
    ("{{$x}}", 'undefined variable "$x"'),
    ("{{break}}", "{{break}} outside {{range}}"),
    ("{{continue}}", "{{continue}} outside {{range}}"),
    ('{{"abc}}', "unterminated quoted string"),
    ("{{`abc}}", "unterminated raw quoted string"),
    ("{{/* abc}}", "unclosed comment"),
    ("{{/* abc */ .Name}}", "comment ends before closing delimiter"),
    ("{{(.Name}}", "unclosed left paren"),
    ("{{.Name)}}", "unexpected right paren"),
    ('{{"a" | "b"}}', "non executable command in pipeline stage 2"),
    ('{{"\\q"}}', "invalid syntax"),
    ("{{3x}}", 'bad number syntax: "3x"'),
    ("{{1.Name}}", 'bad number syntax: "1.N"'),
    ("{{0x}}", 'illegal number syntax: "0x"'),
    ("{{.State.Pid | .}}", "non executable command in pipeline stage 2"),
    ('{{"s".Name}}', 'unexpected . after term "\\"s\\""'),
    ("{{$x, $y := .}}", "too many declarations in command"),
    ("{{template \"x\"}}", "{{template}} is not supported in formats"),
    ("line one\n{{.A}}\n{{.B", "template: :3: unclosed action"),
])
def test_parse_errors(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse(template)
    text = str(caught.value)
    assert text.startswith("template: :")
    assert text.endswith(message), text


def test_template_errors_are_invalid_arguments() -> None:
    assert issubclass(TemplateError, InvalidArgument)


def test_parse_error_message_in_full() -> None:
    with pytest.raises(TemplateError, match=r'^template: :1: unexpected "}" in operand$'):
        parse("{{.ID }")


def test_execution_error_names_line_and_column() -> None:
    assert error("a\nbc {{.Name.X}}") == (
        'template: :2:5: executing "" at <.Name.X>: can\'t evaluate field X in type string')


# --- tables ------------------------------------------------------------------------------


def test_is_table() -> None:
    assert is_table("table {{.ID}}\t{{.Name}}") == (True, "{{.ID}}\t{{.Name}}")
    assert is_table("table") == (True, "")
    assert is_table("{{.ID}}") == (False, "{{.ID}}")
    assert is_table("  table {{.ID}}") == (False, "  table {{.ID}}")


ROWS = [Row("4f66ad9a0b2e", "nginx:latest"), Row("9c1d", "busybox")]


def test_table_aligns_columns_as_docker() -> None:
    out = render_table("table {{.ID}}\t{{.Image}}", ROWS, {"ID": "CONTAINER ID"})
    assert out == (
        "CONTAINER ID   IMAGE\n"
        "4f66ad9a0b2e   nginx:latest\n"
        "9c1d           busybox\n")


def test_table_takes_backslash_t_as_typed_in_a_shell() -> None:
    out = render_table("table {{.ID}}\\t{{.Status}}\\t{{.Image}}", ROWS[1:],
                       {"ID": "ID", "Status": "STATUS", "Image": "IMAGE"})
    assert out == (
        "ID        STATUS    IMAGE\n"
        "9c1d      Up        busybox\n")


def test_table_with_no_rows_prints_the_header() -> None:
    assert render_table("table {{.ID}}\t{{.Image}}", [], {}) == "ID        IMAGE\n"


def test_table_header_keeps_titles_through_docker_functions() -> None:
    out = render_table("table {{lower .Image}}\t{{truncate .ID 2}}\t{{json .Status}}",
                       ROWS[1:], {"Image": "IMAGE"})
    assert out == (
        "IMAGE     ID        STATUS\n"
        "busybox   9c        \"Up\"\n")


def test_table_header_of_a_method_call_is_its_title() -> None:
    out = render_table('table {{.Label "tier"}}', ROWS[:1], {"Label": "LABEL"})
    assert out == "LABEL\nfront\n"


def test_table_header_is_padded_by_pad() -> None:
    out = render_table("table {{pad .ID 1 1}}|", ROWS[1:], {})
    assert out == " ID |\n 9c1d |\n"


def test_non_table_formats_print_rows_unaligned() -> None:
    assert render_table("{{.ID}}\t{{.Image}}", ROWS, {}) == (
        "4f66ad9a0b2e\tnginx:latest\n9c1d\tbusybox\n")
    assert render_table("json", ROWS[1:], {}) == \
        '{"ID":"9c1d","Image":"busybox","Status":"Up"}\n'


def test_table_rendering_errors_propagate() -> None:
    with pytest.raises(TemplateError):
        render_table("table {{.Nope}}", ROWS, {})


# --- tabwriter ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("", ""),
    ("no tabs\n", "no tabs\n"),
    ("a\tb\n", "a         b\n"),
    ("a\tb", "a         b"),
    ("ID\tNAME\nabcdefghijkl\tx\n", "ID" + " " * 13 + "NAME\nabcdefghijkl   x\n"),
    # a cell ending in a tab is padded even at the end of a line
    ("a\tb\t\n", "a         b         \n"),
    # empty cells still take their column's width
    ("a\t\tc\n\tb\tc\n", "a                   c\n          b         c\n"),
    # a line with fewer cells ends the column below it: the blocks are sized apart
    ("aaaaaaaaaaaa\tb\nx\nc\td\n", "aaaaaaaaaaaa   b\nx\nc         d\n"),
    # columns to the right are sized over the lines that have them
    ("a\tb\tc\nlonger cell\tb\nz\tyy\tz\n",
     "a" + " " * 13 + "b         c\nlonger cell   b\nz" + " " * 13 + "yy        z\n"),
    # wide characters take two columns
    ("wide 日本\tx\nab\ty\n", "wide 日本   x\nab" + " " * 10 + "y\n"),
])
def test_tabwriter_with_docker_settings(text: str, expected: str) -> None:
    assert tabwriter(text) == expected


def test_tabwriter_minwidth_and_padding() -> None:
    text = "a\tb\tc\naaaa\t\tc\nx\ny\tz\n"
    assert tabwriter(text, minwidth=0, padding=1) == "a    b c\naaaa   c\nx\ny z\n"


# --- more of the language ----------------------------------------------------------------


NESTED = [[1, 2], [3, 4]]


@pytest.mark.parametrize(("template", "data", "expected"), [
    ("{{if .Nope -}} a {{- else -}} b {{- end}}", CONTAINER, "b"),
    ("{{ if .State.Running }} up {{ end }}", CONTAINER, " up "),
    ("{{range .}}{{range .}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}};{{end}}", NESTED, "1;34;"),
    ("{{range .}}{{range .}}{{.}}{{end}}{{end}}", NESTED, "1234"),
    ("{{$n := 0}}{{range .}}{{$n = len .}}{{end}}{{$n}}", NESTED, "2"),
    ("{{range $i, $_ := .}}{{$i}}{{end}}", NESTED, "01"),
    ("{{with $x := index . 1}}{{index $x 0}}{{end}}", NESTED, "3"),
    ("{{(index . 0 | len)}}", NESTED, "2"),
    ("{{if and (eq (len .) 2) (gt (index . 0 0) 0)}}yes{{end}}", NESTED, "yes"),
])
def test_nesting(template: str, data: object, expected: str) -> None:
    assert render(template, data) == expected


def test_else_if_chains_share_one_end() -> None:
    template = "{{if eq . 1}}one{{else if eq . 2}}two{{else if eq . 3}}three{{else}}many{{end}}"
    assert [render(template, n) for n in (1, 2, 3, 4)] == ["one", "two", "three", "many"]


def test_else_with_belongs_to_with_only() -> None:
    with pytest.raises(TemplateError, match="unexpected <with> in input"):
        parse("{{if .}}{{else with .}}{{end}}")


def test_pad_with_a_negative_count_is_an_error() -> None:
    assert error('{{pad "x" -1 0}}').endswith("error calling pad: strings: negative Repeat count")


def test_multiline_positions() -> None:
    assert error("{{/* one\ntwo */ -}}\n\n{{.Name.X}}").startswith("template: :4:2: ")
