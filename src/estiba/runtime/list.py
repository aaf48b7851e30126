"""``list``: every container under the root, as a table like runc's or as JSON."""

from __future__ import annotations

import json

from estiba.runtime.container import Container


def rows(root: str) -> list[dict]:
    out = []
    for c in Container.list(root):
        status = c.status()
        out.append({
            "ociVersion": c.config.get("ociVersion", ""),
            "id": c.id,
            "pid": c.pid if status != "stopped" else 0,
            "status": status,
            "bundle": c.bundle,
            "rootfs": c.data.get("rootfs", ""),
            "created": c.data.get("created", ""),
            "annotations": c.annotations or None,
            "owner": c.data.get("owner") or "root",
        })
    return out


def render(root: str, fmt: str = "table", quiet: bool = False) -> str:
    items = rows(root)
    if quiet:
        return "".join(item["id"] + "\n" for item in items)
    if fmt == "json":
        return json.dumps(items) + "\n"
    table = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]]
    for item in items:
        table.append([item["id"], str(item["pid"]), item["status"], item["bundle"],
                      item["created"], item["owner"]])
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return "".join(
        "   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() + "\n"
        for row in table
    )
