"""A format's text into tokens (Go's lexer) and the tokens into a tree of nodes (its
parser), with Go's messages for what does not parse."""

from __future__ import annotations

from estiba.cli.gotemplate.gofmt import _go_quote
from estiba.cli.gotemplate.values import TemplateError

TYPE_CHECKING = False  # typing costs ~8 ms to import; only type checkers need it
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

_SPACE = " \t\r\n"
_KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "range",
             "nil", "template", "with"}
_TERMINATORS = _SPACE + ".,|:)("


# --- lexing ------------------------------------------------------------------------------


class _Token:
    __slots__ = ("kind", "val", "pos", "line")

    def __init__(self, kind: str, val: str, pos: int, line: int) -> None:
        self.kind, self.val, self.pos, self.line = kind, val, pos, line

    def __str__(self) -> str:
        if self.kind == "eof":
            return "EOF"
        if self.kind == "error":
            return self.val
        if self.kind in ("keyword", "dot"):
            return f"<{self.val}>"
        if len(self.val) > 10:
            return _go_quote(self.val[:10]) + "..."
        return _go_quote(self.val)


def _is_alnum(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


def _lex(text: str) -> list[_Token]:
    """All tokens of ``text``; a lexing error becomes an ``error`` token that ends the
    list, so that the parser reports whichever problem comes first, as Go does."""
    toks: list[_Token] = []
    n = len(text)
    pos = 0
    line = 1

    def emit(kind: str, start: int, end: int, val: str | None = None) -> None:
        toks.append(_Token(kind, text[start:end] if val is None else val, start, line))

    def err(msg: str, at: int) -> list[_Token]:
        toks.append(_Token("error", msg, at, line))
        return toks

    def right_delim(at: int) -> tuple[bool, bool]:
        # (at a closing delimiter, with a trim marker " -" before it)
        if at < n and text[at] in _SPACE and text.startswith("-}}", at + 1):
            return True, True
        return text.startswith("}}", at), False

    while pos < n:
        left = text.find("{{", pos)
        if left < 0:
            emit("text", pos, n)
            break
        trim = left + 3 < n and text[left + 2] == "-" and text[left + 3] in _SPACE
        end = left
        if trim:
            while end > pos and text[end - 1] in _SPACE:
                end -= 1
        if end > pos:
            emit("text", pos, end)
        line += text.count("\n", pos, left)
        pos = left + 2 + (2 if trim else 0)
        if text.startswith("/*", pos):
            close = text.find("*/", pos + 2)
            if close < 0:
                return err("unclosed comment", pos)
            line += text.count("\n", pos, close)
            pos = close + 2
            delim, trim_right = right_delim(pos)
            if not delim:
                return err("comment ends before closing delimiter", pos)
            pos += 4 if trim_right else 2
            if trim_right:
                while pos < n and text[pos] in _SPACE:
                    line += text[pos] == "\n"
                    pos += 1
            continue
        emit("left", left, left + 2)
        depth = 0
        while True:
            delim, trim_right = right_delim(pos)
            if delim:
                if depth:
                    return err("unclosed left paren", pos)
                emit("right", pos, pos + (4 if trim_right else 2))
                pos += 4 if trim_right else 2
                if trim_right:
                    while pos < n and text[pos] in _SPACE:
                        if text[pos] == "\n":
                            line += 1
                        pos += 1
                break
            if pos >= n:
                return err("unclosed action", pos)
            ch = text[pos]
            start = pos
            pos += 1
            if ch in _SPACE:
                while pos < n and text[pos] in _SPACE:
                    pos += 1
                if right_delim(pos - 1) == (True, True):
                    pos -= 1  # that space belongs to " -}}"
                if pos > start:
                    emit("space", start, pos)
                    line += text.count("\n", start, pos)
            elif ch == "=":
                emit("assign", start, pos)
            elif ch == ":":
                if not text.startswith("=", pos):
                    return err("expected :=", pos)
                pos += 1
                emit("declare", start, pos)
            elif ch == "|":
                emit("pipe", start, pos)
            elif ch == '"' or ch == "'":
                while True:
                    if pos >= n or text[pos] == "\n":
                        what = "quoted string" if ch == '"' else "character constant"
                        return err(f"unterminated {what}", start)
                    c = text[pos]
                    pos += 2 if c == "\\" and pos + 1 < n and text[pos + 1] != "\n" else 1
                    if c == ch:
                        break
                emit("string" if ch == '"' else "char", start, pos)
            elif ch == "`":
                close = text.find("`", pos)
                if close < 0:
                    return err("unterminated raw quoted string", start)
                pos = close + 1
                emit("rawstring", start, pos)
                line += text.count("\n", start, pos)
            elif ch in "$." and not (ch == "." and pos < n and text[pos].isdigit()):
                while pos < n and _is_alnum(text[pos]):
                    pos += 1
                if pos < n and text[pos] not in _TERMINATORS and not right_delim(pos)[0]:
                    return err(f"bad character {_go_rune(text[pos])}", pos)
                kind = "var" if ch == "$" else ("dot" if pos == start + 1 else "field")
                emit(kind, start, pos)
            elif ch in "+-.0123456789":
                pos = _scan_number(text, start)
                if pos < 0:
                    return err(f"bad number syntax: {_go_quote(text[start:-pos])}", start)
                emit("number", start, pos)
            elif _is_alnum(ch):
                while pos < n and _is_alnum(text[pos]):
                    pos += 1
                if pos < n and text[pos] not in _TERMINATORS and not right_delim(pos)[0]:
                    return err(f"bad character {_go_rune(text[pos])}", pos)
                word = text[start:pos]
                if word in ("true", "false"):
                    emit("bool", start, pos)
                else:
                    emit("keyword" if word in _KEYWORDS else "ident", start, pos)
            elif ch == "(":
                depth += 1
                emit("lparen", start, pos)
            elif ch == ")":
                depth -= 1
                if depth < 0:
                    return err("unexpected right paren", start)
                emit("rparen", start, pos)
            elif ch.isascii() and ch.isprintable():
                emit("other", start, pos)
            else:
                return err(f"unrecognized character in action: {_go_rune(ch)}", start)
    toks.append(_Token("eof", "", n, line))
    return toks


def _scan_number(text: str, pos: int) -> int:
    """The end of the number starting at ``pos``, or minus the end of the bad text."""

    def run(chars: str) -> None:
        nonlocal pos
        while pos < len(text) and text[pos] in chars:
            pos += 1

    def accept(chars: str) -> bool:
        nonlocal pos
        if pos < len(text) and text[pos] in chars:
            pos += 1
            return True
        return False

    accept("+-")
    digits = "0123456789_"
    if accept("0"):
        if accept("xX"):
            digits = "0123456789abcdefABCDEF_"
        elif accept("oO"):
            digits = "01234567_"
        elif accept("bB"):
            digits = "01_"
    run(digits)
    if accept("."):
        run(digits)
    if (len(digits) == 11 and accept("eE")) or (len(digits) == 23 and accept("pP")):
        accept("+-")
        run("0123456789_")
    accept("i")
    if pos < len(text) and _is_alnum(text[pos]):
        return -(pos + 1)
    return pos


def _go_rune(ch: str) -> str:
    # fmt's %#U
    return f"U+{ord(ch):04X} '{ch}'" if ch.isprintable() else f"U+{ord(ch):04X}"


_UNQUOTE = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
            "\\": "\\"}


def _unquote(lit: str) -> str:
    """Go's strconv.Unquote of a "..." or '...' literal (already lexed as complete)."""
    quote, body = lit[0], lit[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        i += 2
        if e in _UNQUOTE:
            out.append(_UNQUOTE[e])
        elif e == quote:
            out.append(e)
        elif e in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i:i + size]
            try:
                out.append(chr(int(digits, 16)) if len(digits) == size else "")
            except ValueError:
                raise ValueError("invalid syntax") from None
            if len(digits) != size:
                raise ValueError("invalid syntax")
            i += size
        elif e in "01234567":
            digits = body[i - 1:i + 2]
            if len(digits) != 3 or any(d not in "01234567" for d in digits):
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, 8)))
            i += 2
        else:
            raise ValueError("invalid syntax")
    value = "".join(out)
    if quote == "'" and len(value) != 1:
        raise ValueError("invalid syntax")
    return value


def _number(lit: str) -> int | float:
    body = lit.lstrip("+-")
    if not body or not (body[0].isdigit() or body[0] == "."):
        raise ValueError
    sign = -1 if lit.startswith("-") else 1
    low = body.lower()
    if low.startswith("0x") and "p" in low:
        return sign * float.fromhex(body.replace("_", ""))
    if low.startswith(("0x", "0o", "0b")):
        return sign * int(body, 0)
    if "." in body or "e" in low:
        return sign * float(body)
    if len(body) > 1 and body[0] == "0":
        return sign * int(body, 8)  # Go's legacy octal
    return sign * int(body)


# --- parsing -----------------------------------------------------------------------------


class _Node:
    """One node of the parse tree. ``kind`` names it; the other slots depend on it:
    text (val), action (pipe), if/with/range (pipe, body, other), break, continue,
    pipe (decl, assign, cmds), command (args), field/var/chain (idents; var: name,
    chain: target), dot, nil, bool/number/string (val, with ``text`` as written),
    ident (name)."""

    __slots__ = ("kind", "pos", "line", "val", "text", "name", "idents", "target", "pipe",
                 "body", "other", "decl", "assign", "cmds", "args")

    def __init__(self, kind: str, pos: int, line: int = 0, **attrs: Any) -> None:
        self.kind, self.pos, self.line = kind, pos, line
        self.idents = ()
        self.other = None
        for key, value in attrs.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        kind = self.kind
        if kind == "field":
            return "." + ".".join(self.idents)
        if kind == "var":
            return ".".join((self.name, *self.idents))
        if kind == "chain":
            target = f"({self.target})" if self.target.kind == "pipe" else str(self.target)
            return target + "." + ".".join(self.idents)
        if kind == "pipe":
            cmds = " | ".join(str(c) for c in self.cmds)
            if self.decl:
                return ", ".join(self.decl) + (" = " if self.assign else " := ") + cmds
            return cmds
        if kind == "command":
            return " ".join(f"({a})" if a.kind == "pipe" else str(a) for a in self.args)
        if kind in ("bool", "number", "string"):
            return self.text
        if kind == "ident":
            return self.name
        return {"dot": ".", "nil": "nil"}.get(kind, f"{{{{{kind}}}}}")


class _Parser:
    def __init__(self, text: str, funcs: Mapping[str, Any]) -> None:
        self.toks = _lex(text)
        self.i = 0
        self.line = 1
        self.action_line = 0
        self.funcs = funcs
        self.vars = ["$"]
        self.range_depth = 0

    def error(self, msg: str) -> TemplateError:
        return TemplateError(f"template: :{self.line}: {msg}")

    def next(self) -> _Token:
        tok = self.peek()
        self.i += 1
        self.line = tok.line
        return tok

    def peek(self) -> _Token:
        return self.toks[min(self.i, len(self.toks) - 1)]

    def next_non_space(self) -> _Token:
        tok = self.next()
        while tok.kind == "space":
            tok = self.next()
        return tok

    def peek_non_space(self) -> _Token:
        j = min(self.i, len(self.toks) - 1)
        while self.toks[j].kind == "space":
            j += 1
        return self.toks[j]

    def unexpected(self, tok: _Token, context: str) -> TemplateError:
        if tok.kind == "error":
            extra = ""
            if self.action_line and self.action_line != tok.line:
                extra = f" in action started at :{self.action_line}"
                if tok.val.endswith(" action"):
                    extra = extra[len(" in action"):]  # not "action in action"
            return self.error(f"{tok}{extra}")
        return self.error(f"unexpected {tok} in {context}")

    def expect(self, kind: str, context: str) -> _Token:
        tok = self.next_non_space()
        if tok.kind != kind:
            raise self.unexpected(tok, context)
        return tok

    def parse(self) -> list[_Node]:
        root: list[_Node] = []
        while self.peek().kind != "eof":
            node = self.text_or_action()
            if node.kind in ("end", "else"):
                raise self.error(f"unexpected {node}")
            root.append(node)
        return root

    def text_or_action(self) -> _Node:
        tok = self.next_non_space()
        if tok.kind == "text":
            return _Node("text", tok.pos, tok.line, val=tok.val)
        if tok.kind == "left":
            self.action_line = tok.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        raise self.unexpected(tok, "input")

    def action(self) -> _Node:
        tok = self.next_non_space()
        if tok.kind == "keyword":
            word = tok.val
            if word in ("break", "continue"):
                end = self.next_non_space()
                if end.kind != "right":
                    raise self.unexpected(end, f"{{{{{word}}}}}")
                if not self.range_depth:
                    raise self.error(f"{{{{{word}}}}} outside {{{{range}}}}")
                return _Node(word, tok.pos, tok.line)
            if word == "else":
                after = self.peek_non_space()
                if after.kind == "keyword" and after.val in ("if", "with"):
                    return _Node("else", after.pos, after.line)
                self.expect("right", "else")
                return _Node("else", tok.pos, tok.line)
            if word == "end":
                self.expect("right", "end")
                return _Node("end", tok.pos, tok.line)
            if word in ("if", "range", "with"):
                return self.control(word, tok)
            if word in ("block", "define", "template"):
                raise self.error(f"{{{{{word}}}}} is not supported in formats")
        self.i -= 1
        head = self.peek_non_space()
        return _Node("action", head.pos, head.line, pipe=self.pipeline("command", "right"))

    def control(self, word: str, tok: _Token) -> _Node:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(word, "right")
            if word == "range":
                self.range_depth += 1
            body, nxt = self.item_list()
            if word == "range":
                self.range_depth -= 1
            other = None
            if nxt.kind == "else":
                after = self.peek_non_space()
                if word in ("if", "with") and after.kind == "keyword" and after.val == word:
                    inner = self.next_non_space()
                    other = [self.control(word, inner)]
                else:
                    other, nxt = self.item_list()
                    if nxt.kind != "end":
                        raise self.error(f"expected end; found {nxt}")
            return _Node(word, pipe.pos, tok.line, pipe=pipe, body=body, other=other)
        finally:
            del self.vars[mark:]

    def item_list(self) -> tuple[list[_Node], _Node]:
        nodes: list[_Node] = []
        while self.peek_non_space().kind != "eof":
            node = self.text_or_action()
            if node.kind in ("end", "else"):
                return nodes, node
            nodes.append(node)
        raise self.error("unexpected EOF")

    def pipeline(self, context: str, end: str) -> _Node:
        head = self.peek_non_space()
        pipe = _Node("pipe", head.pos, head.line, decl=[], assign=False, cmds=[])
        while True:
            var = self.peek_non_space()
            if var.kind != "var":
                break
            save = self.i
            self.next_non_space()
            after = self.peek_non_space()
            if after.kind in ("assign", "declare"):
                self.next_non_space()
                pipe.assign = after.kind == "assign"
                pipe.decl.append(var.val)
                self.vars.append(var.val)
                break
            if after.kind == "other" and after.val == ",":
                self.next_non_space()
                pipe.decl.append(var.val)
                self.vars.append(var.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().kind in ("var", "right", "rparen"):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            self.i = save
            break
        while True:
            tok = self.next_non_space()
            if tok.kind == end:
                if not pipe.cmds:
                    raise self.error(f"missing value for {context}")
                for stage, cmd in enumerate(pipe.cmds[1:], 2):
                    if cmd.args[0].kind in ("bool", "dot", "nil", "number", "string"):
                        raise self.error(f"non executable command in pipeline stage {stage}")
                return pipe
            if tok.kind in ("bool", "char", "dot", "field", "ident", "number", "keyword",
                            "rawstring", "string", "var", "lparen") and (
                    tok.kind != "keyword" or tok.val == "nil"):
                self.i -= 1
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(tok, context)

    def command(self) -> _Node:
        cmd = _Node("command", self.peek_non_space().pos, args=[])
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok.kind == "space":
                continue
            if tok.kind in ("right", "rparen"):
                self.i -= 1
            elif tok.kind != "pipe":
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> _Node | None:
        node = self.term()
        if node is None or self.peek().kind != "field":
            return node
        idents = []
        while self.peek().kind == "field":
            idents.append(self.next().val[1:])
        if node.kind in ("field", "var"):
            node.idents = (*node.idents, *idents)
            return node
        if node.kind in ("bool", "string", "number", "nil", "dot"):
            raise self.error(f"unexpected . after term {_go_quote(str(node))}")
        return _Node("chain", node.pos, target=node, idents=tuple(idents))

    def term(self) -> _Node | None:
        tok = self.next_non_space()
        kind, val, pos = tok.kind, tok.val, tok.pos
        if kind == "ident":
            if val not in self.funcs:
                raise self.error(f"function {_go_quote(val)} not defined")
            return _Node("ident", pos, name=val)
        if kind == "dot":
            return _Node("dot", pos)
        if kind == "keyword" and val == "nil":
            return _Node("nil", pos)
        if kind == "var":
            if val not in self.vars:
                raise self.error(f"undefined variable {_go_quote(val)}")
            return _Node("var", pos, name=val)
        if kind == "field":
            return _Node("field", pos, idents=(val[1:],))
        if kind == "bool":
            return _Node("bool", pos, val=val == "true", text=val)
        if kind in ("number", "char"):
            try:
                number = ord(_unquote(val)) if kind == "char" else _number(val)
            except (ValueError, IndexError):
                if kind == "char":
                    raise self.error(f"malformed character constant: {val}") from None
                raise self.error(f"illegal number syntax: {_go_quote(val)}") from None
            return _Node("number", pos, val=number, text=val)
        if kind == "lparen":
            return self.pipeline("parenthesized pipeline", "rparen")
        if kind in ("string", "rawstring"):
            try:
                text = val[1:-1].replace("\r", "") if kind == "rawstring" else _unquote(val)
            except (ValueError, IndexError):
                raise self.error("invalid syntax") from None
            return _Node("string", pos, val=text, text=val)
        self.i -= 1
        return None
