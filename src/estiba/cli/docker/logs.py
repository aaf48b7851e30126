"""``estiba logs CONTAINER``: a container's output as docker's ``container logs``
prints it, its stdout on stdout and its stderr on stderr (one stream with a terminal).
``--since`` and ``--until`` are converted by ``timefilters``, as docker's client
converts them."""

from __future__ import annotations

from estiba.cli.docker.flags import Flag, exact, parse

TYPE_CHECKING = False
if TYPE_CHECKING:

    from estiba.cli.docker.context import Context

FLAGS = (Flag("details", help="Show the extra details the log driver keeps"),
         Flag("follow", "f", help="Follow log output until the container stops"),
         Flag("since", help='Show logs since a time (e.g. "2013-01-02T13:23:37Z") or '
                            'a duration ago (e.g. "42m")', kind="string"),
         Flag("tail", "n", help='How many of the last lines to show (default "all")',
              kind="string"),
         Flag("timestamps", "t", help="Prefix each line with its timestamp"),
         Flag("until", help='Show logs before a time (e.g. "2013-01-02T13:23:37Z") or '
                            'a duration ago (e.g. "42m")', kind="string"))
FLAGS_OF = {"logs": FLAGS}


def logs(ctx: Context, argv: list[str]) -> int:
    import time

    from estiba.cli.docker.timefilters import TimestampError, timestamp

    opts, args = parse(argv, FLAGS)
    exact("logs", args, 1)
    found = ctx.client.inspect_container(args[0])
    now = time.time()
    offset = time.localtime(now).tm_gmtoff
    window = {}
    for key in ("since", "until"):
        if opts[key]:
            try:
                window[key] = timestamp(str(opts[key]), now, offset)
            except TimestampError as err:
                ctx.err.write(f'invalid value for "{key}": {err}\n')
                return 1
    tty = bool((found.get("Config") or {}).get("Tty"))
    pieces = ctx.client.logs(found["Id"], follow=bool(opts["follow"]),
                             tail=str(opts["tail"] or "all"),
                             timestamps=bool(opts["timestamps"]), tty=tty,
                             details=bool(opts["details"]),
                             **window)  # type: ignore[arg-type]
    from estiba.cli.docker.streams import writer

    out, err = writer(ctx.out), writer(ctx.err)
    try:
        for stream, data in pieces:
            (err if stream == 2 else out)(data)
    except KeyboardInterrupt:
        return 130
    return 0
