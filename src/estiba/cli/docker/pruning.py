"""What docker's prune commands (``container``, ``image``, ``network``, ``volume`` and
``system prune``) share: the question they ask before they remove anything, the list
of what went under its title, and the total of the space reclaimed. Pure but for
``confirm``, which reads the answer."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import TextIO

    from estiba.cli.docker.context import Context


def confirm(ctx: Context, message: str, answers: TextIO | None = None) -> bool:
    """command.PromptForConfirmation: the question and `` [y/N] `` on stdout; yes is a
    line of ``answers`` (stdin) that is ``y`` or ``Y`` once trimmed; end of input is
    no."""
    import sys

    ctx.out.write(message + " [y/N] ")
    ctx.out.flush()
    return (answers or sys.stdin).readline().strip() in ("y", "Y")


def deleted(title: str, names: Iterable[str]) -> str:
    """A prune's list of what went (``Deleted Containers:``, a name a line, a blank
    line), "" when nothing went."""
    lines = "".join(f"{n}\n" for n in names)
    return f"{title}\n{lines}\n" if lines else ""


def image_lines(removed: Iterable[Mapping[str, str]]) -> list[str]:
    """The lines of ``Deleted Images:`` for the daemon's ImagesDeleted."""
    return [f"untagged: {d['Untagged']}" if d.get("Untagged") else
            f"deleted: {d.get('Deleted', '')}" for d in removed]


def reclaimed(space: int) -> str:
    """The line every prune ends with (but ``network prune``)."""
    from estiba.units import human_size

    return f"Total reclaimed space: {human_size(space)}\n"
