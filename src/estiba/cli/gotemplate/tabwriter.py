"""Rows aligned as Go's text/tabwriter aligns them (padchar ' ', no flags)."""

from __future__ import annotations


def _width(cell: str) -> int:
    if cell.isascii():
        return len(cell)
    import unicodedata  # a C module, loaded only for text beyond ASCII

    width = 0
    for ch in cell:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def tabwriter(text: str, minwidth: int = 10, tabwidth: int = 1, padding: int = 3) -> str:
    """Go's text/tabwriter (padding with spaces, no flags) over the whole of ``text``.

    Cells are tab-terminated: the text after a line's last tab is not part of a column
    and is never padded. A column is a run of adjacent lines that all have a cell in it;
    its width is its widest cell plus ``padding``, at least ``minwidth``. ``tabwidth``
    only matters when padding with tabs, which this never does; it is kept for the
    signature's sake."""
    del tabwidth
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            for j, cell in enumerate(lines[i]):
                out.append(cell)
                if j < len(widths):
                    out.append(" " * (widths[j] - _width(cell)))
            if i + 1 < len(lines):
                out.append("\n")

    def layout(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, _width(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            layout(line0, this)
            widths.pop()
            line0 = this
        write(line0, line1)

    layout(0, len(lines))
    return "".join(out)
