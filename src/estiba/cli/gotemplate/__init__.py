"""``--format`` templates: Go's text/template language with Docker's template functions
(``json``, ``join``, ``split``, ``title``, ``lower``, ``upper``, ``pad``, ``truncate``)
and Docker's ``table`` directive, whose rows are aligned as Go's text/tabwriter does.

Values are what the CLI decodes from the API (dicts, lists, str, int, float, bool, None)
or objects with attributes (the rows the CLI builds). Dicts behave as Go maps (a missing
key gives ``<no value>``), objects as Go structs (a missing field is an error), and values
print as Go's ``fmt`` prints them, so the output matches what ``docker`` prints.

Pure and cheap to import: the CLI starts once per command, so no ``re``, ``json``,
``typing`` or ``dataclasses`` here.

Modules: ``syntax`` (the lexer and the parser), ``execute`` (running a parsed template),
``functions`` (Go's builtins and Docker's functions), ``gofmt`` (printing as Go's
``fmt``), ``tabwriter`` (Go's column alignment), ``values`` (what they share).
"""

from __future__ import annotations

from estiba.cli.gotemplate.tabwriter import tabwriter

TYPE_CHECKING = False  # typing costs ~8 ms to import; only type checkers need it
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from estiba.cli.gotemplate.syntax import _Node
    from estiba.cli.gotemplate.values import TemplateError as TemplateError

# The parser, the executor and the functions are imported when a template is parsed:
# a default table (``docker ps``'s) is printed without them (``_plain_table``).


def __getattr__(name: str) -> object:
    if name == "TemplateError":  # imported when a caller names it, as the rest
        from estiba.cli.gotemplate.values import TemplateError

        return TemplateError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# --- the interface -----------------------------------------------------------------------


class Template:
    """A parsed format; ``render`` runs it over one value."""

    __slots__ = ("text", "_nodes")

    def __init__(self, text: str, nodes: list[_Node]) -> None:
        self.text = text
        self._nodes = nodes

    def render(self, data: object) -> str:
        from estiba.cli.gotemplate.functions import _FUNCS

        return self._run(data, _FUNCS)

    def _run(self, data: object, funcs: Mapping[str, Any]) -> str:
        from estiba.cli.gotemplate.execute import _State

        state = _State(self.text, funcs, data)
        state.walk(data, self._nodes)
        return "".join(state.out)


def parse(text: str) -> Template:
    """Parse a format; a TemplateError carries Go's message for what is wrong."""
    from estiba.cli.gotemplate.functions import _FUNCS
    from estiba.cli.gotemplate.syntax import _Parser

    return Template(text, _Parser(text, _FUNCS).parse())


def is_table(fmt: str) -> tuple[bool, str]:
    """Whether ``fmt`` asks for a table (Docker: it starts with ``table``), and the row
    template that follows the directive, without its surrounding spaces."""
    if fmt.startswith("table"):
        return True, fmt[len("table"):].strip(" ")
    return False, fmt


def render_table(fmt: str, rows: Sequence[object], headers: Mapping[str, str]) -> str:
    """What a list command prints for ``--format fmt``, as Docker's formatter does: the
    format ``json`` is ``{{json .}}``; literal ``\\t`` and ``\\n`` (as typed in a shell)
    are a tab and a newline; each row is rendered and ended with a newline. A table adds
    a header row first (the template rendered with ``headers``, the column titles by
    field name; a field without one is titled by its name in upper case) and aligns the
    whole with ``tabwriter``."""
    table, body = is_table(fmt)
    if fmt == "json":
        body = "{{json .}}"
    body = body.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    if table:
        fast = _plain_table(body, rows, headers)
        if fast is not None:
            return fast
    template = parse(body)
    text = "".join(template.render(row) + "\n" for row in rows)
    if not table:
        return text
    from estiba.cli.gotemplate.execute import _Headers
    from estiba.cli.gotemplate.functions import _HEADER_FUNCS

    header = template._run(_Headers(headers), _HEADER_FUNCS)
    return tabwriter(header + "\n" + text)


def _plain_table(body: str, rows: Sequence[object], headers: Mapping[str, str]
                 ) -> str | None:
    """The table of a row template made of ``{{.Field}}`` cells alone, tab-separated
    (the list commands' default tables), whose fields are strings in every row: what
    the engine would print, without parsing or running it; None for anything else."""
    names = []
    for cell in body.split("\t"):
        if not (cell.startswith("{{.") and cell.endswith("}}") and cell[3:-2].isidentifier()):
            return None
        names.append(cell[3:-2])
    lines = ["\t".join(headers.get(name, name.upper()) for name in names)]
    for row in rows:
        cells = [row.get(name) if isinstance(row, dict) else getattr(row, name, None)
                 for name in names]
        if not all(isinstance(cell, str) for cell in cells):
            return None  # a value Go prints its own way, or an error to report: the engine
        lines.append("\t".join(cells))  # type: ignore[arg-type]
    return tabwriter("\n".join(lines) + "\n")
