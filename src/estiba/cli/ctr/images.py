"""``ctr images ls|import|export|tag|rm``."""

from __future__ import annotations

from estiba.cli.args import Option, count, parse
from estiba.cli.ctr.main import verb
from estiba.cli.tables import binary_size, labels, tabwrite


def table(images: list[dict]) -> str:
    rows = [["REF", "TYPE", "DIGEST", "SIZE", "PLATFORMS", "LABELS"]]
    for i in images:
        target = i.get("target") or {}
        rows.append([i["name"], target.get("mediaType", ""), target.get("digest", ""),
                     binary_size(int(target.get("size") or 0)),
                     i.get("platforms") or "-", labels(i.get("labels"), "-")])
    return tabwrite(rows)


def ls(ctx, argv: list[str]) -> int:
    opts, positional = parse(argv, (Option("-q", "--quiet"),))
    count(positional, 0, 0, "ctr images ls [-q]")
    images = ctx.client.images()
    if opts["quiet"]:
        ctx.out.write("".join(i["name"] + "\n" for i in images))
    else:
        ctx.out.write(table(images))
    return 0


def import_(ctx, argv: list[str]) -> int:
    opts, positional = parse(argv, (Option("--tag", value=True), Option("--no-unpack")))
    count(positional, 1, 1, "ctr images import [--tag NAME] [--no-unpack] FILE")
    unpack = not opts["no_unpack"]
    path = positional[0]
    if path == "-":
        import sys

        imported = ctx.client.import_images(sys.stdin.buffer, str(opts["tag"] or ""), unpack)
    else:
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed by the with below
        except OSError as err:
            from estiba import errors

            raise errors.from_oserror(f"open {path}", err) from err
        with f:
            imported = ctx.client.import_images(f, str(opts["tag"] or ""), unpack)
    for i in imported:
        if unpack:
            ctx.out.write(f"unpacking {i['name']} ({i['digest']})...done\n")
        else:
            ctx.out.write(f"{i['name']}\n")
    return 0


def export(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 2, None, "ctr images export FILE NAME...")
    path, names = positional[0], positional[1:]
    if path == "-":
        import sys

        ctx.client.export_images(names, sys.stdout.buffer)
        return 0
    import os

    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as out:
            ctx.client.export_images(names, out)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return 0


def tag(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 2, 2, "ctr images tag SOURCE TARGET")
    image = ctx.client.tag_image(positional[0], positional[1])
    ctx.out.write(image["name"] + "\n")
    return 0


def rm(ctx, argv: list[str]) -> int:
    _, positional = parse(argv)
    count(positional, 1, None, "ctr images rm NAME...")
    for name in positional:
        ctx.client.delete_image(name)
        ctx.out.write(name + "\n")
    return 0


VERBS = {"ls": ls, "list": ls, "import": import_, "export": export, "tag": tag, "rm": rm,
         "remove": rm}


def main(ctx, argv: list[str]) -> int:
    fn, rest = verb(VERBS, argv, "images")
    return fn(ctx, rest)
