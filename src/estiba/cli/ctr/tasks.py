"""``ctr tasks ls|start|kill|ps|pause|resume|metrics|exec|attach|rm``."""

from __future__ import annotations

from estiba.cli.args import Option, count, parse
from estiba.cli.ctr.main import verb
from estiba.cli.tables import tabwrite


def table(tasks: list[dict]) -> str:
    rows = [["TASK", "PID", "STATUS"]]
    rows += [[t["id"], str(t.get("pid", 0)), (t.get("status") or "unknown").upper()]
             for t in tasks]
    return tabwrite(rows)


def ps_table(pids: list[dict]) -> str:
    return tabwrite([["PID", "INFO"]] + [[str(p["pid"]), "-"] for p in pids],
                    terminated=False)


def flatten(value: object, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out = []
        for key in sorted(value):
            out += flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
        return out
    return [(prefix, "-" if value is None else str(value))]


def metrics_table(task_id: str, stamp: str, metrics: dict) -> str:
    head = tabwrite([["ID", "TIMESTAMP"], [task_id, stamp]])
    return head + "\n" + tabwrite([["METRIC", "VALUE"]] + [list(kv) for kv in
                                                           flatten(metrics)])


def ls(ctx, argv: list[str]) -> int:
    opts, positional = parse(argv, (Option("-q", "--quiet"),))
    count(positional, 0, 0, "ctr tasks ls [-q]")
    tasks = ctx.client.tasks()
    if opts["quiet"]:
        ctx.out.write("".join(t["id"] + "\n" for t in tasks))
    else:
        ctx.out.write(table(tasks))
    return 0


def start(ctx, argv: list[str]) -> int:
    """Create the task if the container has none, start it (detached: the output is
    in its log, ``ctr run`` follows it)."""
    from estiba import errors

    _, positional = parse(argv, (Option("-d", "--detach"),))
    count(positional, 1, 1, "ctr tasks start ID")
    cid = positional[0]
    try:
        ctx.client.task(cid)
    except errors.NotFound:
        container = ctx.client.container(cid)
        terminal = bool(((container.get("spec") or {}).get("process") or {}).get("terminal"))
        ctx.client.create_task(cid, terminal=terminal)
    ctx.client.start_task(cid)
    return 0


def kill(ctx, argv: list[str]) -> int:
    opts, positional = parse(argv, (Option("-s", "--signal", value=True),
                                    Option("-a", "--all")))
    count(positional, 1, 1, "ctr tasks kill [-s SIGNAL] [-a] ID")
    signal = str(opts["signal"] or "SIGTERM")
    ctx.client.kill_task(positional[0], int(signal) if signal.isdigit() else signal,
                         all=bool(opts["all"]))
    return 0


def _one(argv: list[str], usage: str) -> str:
    _, positional = parse(argv)
    count(positional, 1, 1, usage)
    return positional[0]


def ps(ctx, argv: list[str]) -> int:
    ctx.out.write(ps_table(ctx.client.ps(_one(argv, "ctr tasks ps ID"))))
    return 0


def pause(ctx, argv: list[str]) -> int:
    ctx.client.pause_task(_one(argv, "ctr tasks pause ID"))
    return 0


def resume(ctx, argv: list[str]) -> int:
    ctx.client.resume_task(_one(argv, "ctr tasks resume ID"))
    return 0


def metrics(ctx, argv: list[str]) -> int:
    import time

    tid = _one(argv, "ctr tasks metrics ID")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ctx.out.write(metrics_table(tid, stamp, ctx.client.metrics(tid)))
    return 0


def exec_(ctx, argv: list[str]) -> int:
    """Run a process in the task, its stdio attached (``-t``: on a pty), and exit with
    its status. Without a stdin (the context's is None) its output goes to its own log
    and the status is waited for."""
    opts, positional = parse(argv, (Option("--exec-id", value=True), Option("-t", "--tty"),
                                    Option("--cwd", value=True),
                                    Option("--env", value=True, repeat=True)),
                             interleave=False)
    count(positional, 2, None, "ctr tasks exec [-t] --exec-id ID TASK CMD...")
    if not opts["exec_id"]:
        from estiba.cli.args import UsageError

        raise UsageError("exec-id is required")
    tid, exec_id, tty = positional[0], str(opts["exec_id"]), bool(opts["tty"])
    env, cwd = list(opts["env"]), str(opts["cwd"] or "")
    if ctx.stdin_fd is None:
        done = ctx.client.exec(tid, exec_id, positional[1:], env=env, cwd=cwd,
                               terminal=tty, wait=True)
    else:
        from estiba.cli.ctr import stdio

        conn = ctx.client.exec_attach(tid, exec_id, positional[1:], env=env, cwd=cwd,
                                      terminal=tty, stdin=True)
        stdio.attached(ctx, conn, tty=tty, stdin=True,
                       resize=stdio.resize_via(ctx, tid, exec_id), start=_nothing)
        done = ctx.client.wait_exec(tid, exec_id)
    status = done.get("exit_status")
    return int(status) if status is not None else 0


def attach(ctx, argv: list[str]) -> int:
    """Attach our stdio to the running task (its pty when it has one) until it exits;
    exit with its status."""
    from estiba.cli.ctr import stdio

    tid = _one(argv, "ctr tasks attach ID")
    tty = bool(ctx.client.task(tid).get("terminal"))
    stdin = ctx.stdin_fd is not None
    conn = ctx.client.attach(tid, stdin=stdin)
    stdio.attached(ctx, conn, tty=tty, stdin=stdin, resize=stdio.resize_via(ctx, tid),
                   start=_nothing)
    status = ctx.client.wait_task(tid).get("exit_status")
    return int(status) if status is not None else 0


def _nothing() -> None:
    pass


def rm(ctx, argv: list[str]) -> int:
    opts, positional = parse(argv, (Option("-f", "--force"),))
    count(positional, 1, None, "ctr tasks rm [-f] ID...")
    for tid in positional:
        ctx.client.delete_task(tid, force=bool(opts["force"]))
    return 0


VERBS = {"ls": ls, "list": ls, "start": start, "kill": kill, "ps": ps, "pause": pause,
         "resume": resume, "metrics": metrics, "metric": metrics, "exec": exec_,
         "attach": attach, "rm": rm, "delete": rm, "del": rm, "remove": rm}


def main(ctx, argv: list[str]) -> int:
    fn, rest = verb(VERBS, argv, "tasks")
    return fn(ctx, rest)
