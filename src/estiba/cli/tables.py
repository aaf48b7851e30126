"""Output as ctr prints it: Go's ``text/tabwriter`` columns, containerd's
``progress.Bytes`` sizes (binary units), go-units' ``HumanSize`` (decimal) and
``HumanDuration``. Pure: rows in, text out."""

from __future__ import annotations

from estiba import units
from estiba.oci.json_codec import dumps


def tabwrite(rows: list[list[str]], minwidth: int = 1, padding: int = 1,
             terminated: bool = True) -> str:
    """Rows as tabwriter lays them out (padchar ' ', no flags). ``terminated``: every
    cell ends with a tab (ctr's ``"A\\tB\\t"`` lines: each column padded, the line ends
    with spaces); otherwise the last cell of each line is left as it is."""
    if not rows:
        return ""
    aligned = len(rows[0]) if terminated else len(rows[0]) - 1
    widths = []
    for col in range(aligned):
        widest = max(len(row[col]) for row in rows if col < len(row))
        widths.append(max(widest + padding, minwidth))
    lines = []
    for row in rows:
        cells = [cell.ljust(widths[i]) if i < aligned else cell for i, cell in enumerate(row)]
        lines.append("".join(cells))
    return "\n".join(lines) + "\n"


binary_size = units.binary_size
human_size = units.human_size
human_duration = units.human_duration


def epoch(stamp: str) -> float | None:
    """Seconds since the epoch of an RFC 3339 UTC time (``...Z``), None if it is not
    one. (``time.strptime`` would import ``_strptime``, ``re``, ``locale``.)"""
    try:
        date, _, clock = stamp.rstrip("Z").partition("T")
        year, month, day = (int(x) for x in date.split("-"))
        hms, _, frac = clock.partition(".")
        hour, minute, second = (int(x) for x in hms.split(":"))
    except ValueError:
        return None
    # days from the civil date (Howard Hinnant's algorithm)
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return days * 86400 + hour * 3600 + minute * 60 + second + float(f"0.{frac or 0}")


def labels(value: dict | None, empty: str = "") -> str:
    """``k=v,k2=v2`` sorted, as ctr joins them."""
    if not value:
        return empty
    return ",".join(sorted(f"{k}={v}" for k, v in value.items()))


def indent_json(value: object, level: int = 0) -> str:
    """json.MarshalIndent(x, "", "    "), which ctr's ``info`` verbs print."""
    pad = "    " * (level + 1)
    if isinstance(value, dict) and value:
        items = [f"{pad}{dumps(str(k))}: {indent_json(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "    " * level + "}"
    if isinstance(value, list) and value:
        items = [pad + indent_json(v, level + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "    " * level + "]"
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return dumps(value)
