"""Running a parsed template over a value: fields, variables, pipelines, control
structures, as Go's text/template executes them."""

from __future__ import annotations

from estiba.cli.gotemplate.gofmt import _sprint
from estiba.cli.gotemplate.syntax import _Node
from estiba.cli.gotemplate.values import (
    _MISSING,
    _NOFINAL,
    TemplateError,
    _ArgError,
    _FuncError,
    _go_type,
    _plain,
    _sorted_items,
    _truth,
)

TYPE_CHECKING = False  # typing costs ~8 ms to import; only type checkers need it
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

# --- execution ---------------------------------------------------------------------------


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Headers:
    """The data a table's header row is rendered with: every field is its column
    title, whatever follows it in a chain and whatever arguments it is given."""

    __slots__ = ("titles",)

    def __init__(self, titles: Mapping[str, str]) -> None:
        self.titles = titles

    def title(self, name: str) -> str:
        return self.titles.get(name, name.upper())


class _State:
    def __init__(self, text: str, funcs: Mapping[str, Any], root: object) -> None:
        self.text = text
        self.funcs = funcs
        self.vars: list[list[Any]] = [["$", root]]
        self.out: list[str] = []
        self.node: _Node | None = None

    def error(self, msg: str, node: _Node | None = None) -> TemplateError:
        node = node or self.node
        if node is None:
            return TemplateError(f"template: : {msg}")
        pos = node.pos
        line = 1 + self.text.count("\n", 0, pos)
        col = pos - (self.text.rfind("\n", 0, pos) + 1)
        context = str(node)
        if len(context) > 20:
            context = context[:20] + "..."
        return TemplateError(f'template: :{line}:{col}: executing "" at <{context}>: {msg}')

    def walk(self, dot: object, nodes: list[_Node]) -> None:
        for node in nodes:
            kind = node.kind
            if kind == "text":
                self.out.append(node.val)
            elif kind == "action":
                value = self.pipeline(dot, node.pipe)
                if not node.pipe.decl:
                    self.out.append("<no value>" if value is _MISSING else _sprint(value))
            elif kind in ("if", "with"):
                mark = len(self.vars)
                value = self.pipeline(dot, node.pipe)
                if _truth(value):
                    self.walk(value if kind == "with" else dot, node.body)
                elif node.other is not None:
                    self.walk(dot, node.other)
                del self.vars[mark:]
            elif kind == "range":
                self.range(dot, node)
            elif kind == "break":
                raise _Break
            elif kind == "continue":
                raise _Continue

    def range(self, dot: object, node: _Node) -> None:
        mark = len(self.vars)
        value = self.pipeline(dot, node.pipe)
        decl = node.pipe.decl
        if isinstance(value, list | tuple):
            pairs = list(enumerate(value))
        elif isinstance(value, dict):
            pairs = _sorted_items(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            if len(decl) > 1:
                raise self.error(f"can't use {value} to iterate over more than one variable",
                                 node.pipe)
            pairs = [(i, i) for i in range(value)]
        elif value is _MISSING:
            pairs = []
        else:
            raise self.error(f"range can't iterate over {_sprint(value)}", node.pipe)
        inner = len(self.vars)
        try:
            for index, elem in pairs:
                if decl:
                    if node.pipe.assign:
                        self.set_var(decl[0], index if len(decl) > 1 else elem)
                        if len(decl) > 1:
                            self.set_var(decl[1], elem)
                    else:
                        self.vars[-1][1] = elem
                        if len(decl) > 1:
                            self.vars[-2][1] = index
                try:
                    self.walk(elem, node.body)
                except _Continue:
                    pass
                del self.vars[inner:]
        except _Break:
            pass
        if not pairs and node.other is not None:
            self.walk(dot, node.other)
        del self.vars[mark:]

    def set_var(self, name: str, value: object) -> None:
        for slot in reversed(self.vars):
            if slot[0] == name:
                slot[1] = value
                return
        raise self.error(f"undefined variable: {name}")

    def var(self, name: str) -> Any:
        for slot in reversed(self.vars):
            if slot[0] == name:
                return slot[1]
        raise self.error(f"undefined variable: {name}")

    def pipeline(self, dot: object, pipe: _Node) -> Any:
        value: Any = _NOFINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
            if value is None:
                value = _MISSING  # Go unwraps a nil interface into "no value"
        for name in pipe.decl:
            if pipe.assign:
                self.set_var(name, value)
            else:
                self.vars.append([name, value])
        return value

    def not_a_function(self, args: list[_Node], final: object) -> None:
        if len(args) > 1 or final is not _NOFINAL:
            raise self.error(f"can't give argument to non-function {args[0]}", args[0])

    def command(self, dot: object, cmd: _Node, final: object) -> Any:
        first = cmd.args[0]
        kind = first.kind
        if kind == "field":
            return self.chain(dot, dot, first, cmd.args, final)
        if kind == "chain":
            if first.target.kind == "nil":
                raise self.error(f"indirection through explicit nil in {first}", first)
            target = self.arg(dot, first.target)
            return self.chain(dot, target, first, cmd.args, final)
        if kind == "ident":
            return self.call(dot, first, cmd, cmd.args[1:], final)
        if kind == "pipe":
            self.not_a_function(cmd.args, final)
            return self.pipeline(dot, first)
        if kind == "var":
            value = self.var(first.name)
            if not first.idents:
                self.not_a_function(cmd.args, final)
                return value
            return self.chain(dot, value, first, cmd.args, final)
        self.node = first
        self.not_a_function(cmd.args, final)
        if kind == "dot":
            return dot
        if kind == "nil":
            raise self.error("nil is not a command")
        return first.val

    def arg(self, dot: object, node: _Node) -> Any:
        """An argument's value: fields and variables as they are, "no value" included."""
        self.node = node
        kind = node.kind
        if kind == "dot":
            return dot
        if kind == "nil":
            return None
        if kind == "field":
            return self.chain(dot, dot, node, None, _NOFINAL)
        if kind == "var":
            value = self.var(node.name)
            return self.chain(dot, value, node, None, _NOFINAL) if node.idents else value
        if kind == "chain":
            return self.command(dot, _Node("command", node.pos, args=[node]), _NOFINAL)
        if kind == "pipe":
            return self.pipeline(dot, node)
        if kind == "ident":
            return self.call(dot, node, node, [], _NOFINAL)
        return node.val

    def chain(self, dot: object, receiver: object, node: _Node,
              args: list[_Node] | None, final: object) -> Any:
        self.node = node
        idents = node.idents
        if isinstance(receiver, _Headers):
            return receiver.title(idents[0])
        for name in idents[:-1]:
            receiver = self.field(dot, receiver, name, node, None, _NOFINAL)
        return self.field(dot, receiver, idents[-1], node, args, final)

    def field(self, dot: object, receiver: object, name: str, node: _Node,
              args: list[_Node] | None, final: object) -> Any:
        if receiver is _MISSING:
            return _MISSING
        has_args = (args is not None and len(args) > 1) or final is not _NOFINAL
        if isinstance(receiver, dict):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments", node)
            return receiver.get(name, _MISSING)
        if receiver is None:
            raise self.error(f"nil pointer evaluating interface {{}}.{name}", node)
        value: Any = _NOFINAL
        if not isinstance(receiver, _PLAIN) and not name.startswith("_"):
            value = getattr(receiver, name, _NOFINAL)
        if value is _NOFINAL:
            raise self.error(f"can't evaluate field {name} in type {_go_type(receiver)}", node)
        if callable(value) and not isinstance(value, type):
            argv = [_plain(self.arg(dot, a)) for a in (args or [None])[1:]]
            if final is not _NOFINAL:
                argv.append(_plain(final))
            self.node = node
            return value(*argv)
        if has_args:
            raise self.error(f"{name} is not a method but has arguments", node)
        return value

    def call(self, dot: object, ident: _Node, cmd: _Node, args: list[_Node],
             final: object) -> Any:
        name = ident.name
        fn, least, most = self.funcs[name]
        got = len(args) + (final is not _NOFINAL)
        if got < least or (most is not None and got > most):
            want = f"{least}" if most == least else f"at least {least}"
            raise self.error(f"wrong number of args for {name}: want {want} got {got}", ident)
        if fn is None:  # and, or: evaluate no more arguments than needed
            value: Any = None
            for arg in args:
                value = _plain(self.arg(dot, arg))
                if _truth(value) == (name == "or"):
                    return value
            return _plain(final) if final is not _NOFINAL else value
        argv = [_plain(self.arg(dot, a)) for a in args]
        if final is not _NOFINAL:
            argv.append(_plain(final))
        self.node = ident
        try:
            return fn(*argv)
        except _FuncError as err:
            raise self.error(f"error calling {name}: {err}", cmd) from None
        except _ArgError as err:
            raise self.error(str(err), ident) from None


_PLAIN = (str, int, float, bool, list, tuple)
