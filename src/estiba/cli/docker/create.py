"""``estiba create``: docker's ``container create``; and ``create_container``, the
creation ``run`` shares: the warnings docker's CLI prints before it asks, the
``--cidfile``, ``--pull`` (``missing``: pull when the daemon does not have the image,
then ask again), the daemon's warnings."""

from __future__ import annotations

from estiba.cli.docker.runopts import CREATE_FLAGS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.cli.docker.context import Context
    from estiba.cli.docker.runopts import RunOptions

FLAGS_OF = {"create": CREATE_FLAGS}

_ARCHES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm",
           "armel": "arm", "i386": "386"}
_KNOWN_OSES = ("linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris",
               "illumos", "aix", "android", "dragonfly", "ios", "js", "plan9", "wasip1")
_KNOWN_ARCHES = ("amd64", "arm64", "arm", "386", "ppc64le", "ppc64", "s390x", "riscv64",
                 "mips", "mipsle", "mips64", "mips64le", "loong64", "wasm")


def platform_query(text: str, host_arch: str = "amd64") -> str:
    """``--platform`` as docker sends it (containerd's platforms.Parse, then Format):
    lower case, the architecture's canonical name, ``linux`` for an architecture
    alone, the host's architecture for an operating system alone."""
    from estiba.errors import InvalidArgument

    def component(part: str) -> str:
        if not part or any(not (c.isascii() and (c.isalnum() or c in "_.-"))
                           for c in part):
            raise InvalidArgument(
                f'error parsing specified platform: "{part}" is an invalid component of '
                f'"{text}": platform specifier component must match '
                '"^[A-Za-z0-9_.-]+$": invalid argument')
        return part.lower()

    parts = text.split("/")
    if len(parts) > 3:
        raise InvalidArgument(f'error parsing specified platform: "{text}": cannot parse '
                              "platform specifier: invalid argument")
    parts = [component(p) for p in parts]
    if len(parts) == 1:
        one = _ARCHES.get(parts[0], parts[0])
        if one in _KNOWN_ARCHES:
            return f"linux/{one}"
        if one in _KNOWN_OSES:
            return f"{one}/{host_arch}"
        raise InvalidArgument(f'error parsing specified platform: "{text}": unknown '
                              "operating system or architecture: invalid argument")
    parts[1] = _ARCHES.get(parts[1], parts[1])
    return "/".join(parts)


def familiar(domain: str, path: str) -> str:
    """A reference's short form: ``busybox`` for ``docker.io/library/busybox``."""
    if domain in ("docker.io", ""):
        return path.removeprefix("library/") if path.count("/") == 1 else path
    return f"{domain}/{path}"


def warnings_before(host_config: dict) -> list[str]:
    """What docker's CLI warns of before it asks the daemon."""
    for dns in host_config.get("Dns") or ():
        if dns.startswith("127.") or dns == "::1":
            return [f"WARNING: Localhost DNS ({dns}) may fail in containers."]
    return []


def _pull(ctx: Context, domain: str, path: str, tag: str, platform: str,
          quiet: bool) -> None:
    from estiba.cli.docker.progress import show, terminal_bars

    name = familiar(domain, path)
    messages = ctx.client.pull(name, tag, platform)
    if quiet:
        for _ in messages:  # not shown; an error still ends the pull
            pass
        return
    show(messages, ctx.err, terminal_bars(ctx.err))


def create_container(ctx: Context, opts: RunOptions) -> str:
    """Create the container ``opts`` describes, as docker's CLI does; its id. Writes
    the warnings to ``ctx.err`` and the id to ``--cidfile``."""
    import posix  # not os: ~1 ms to import without site

    from estiba import errors
    from estiba.cli.docker.reference import BadReference, parse_any, with_default_tag
    from estiba.cli.docker.terminal import stream_size
    from estiba.client.docker import DockerError

    for line in warnings_before(opts.host_config):
        ctx.err.write(line + "\n")
    if opts.cidfile and posix.access(opts.cidfile, posix.F_OK):
        raise errors.AlreadyExists(
            "container ID file found, make sure the other container isn't running or "
            f"delete {opts.cidfile}")
    try:
        ref = parse_any(opts.image)
    except BadReference as err:
        raise errors.InvalidArgument(str(err)) from None
    named = None if isinstance(ref, str) else with_default_tag(ref)
    platform = platform_query(opts.platform) if opts.platform else ""

    def pull() -> None:
        assert named is not None
        _pull(ctx, named.domain or "docker.io", named.path, named.digest or named.tag,
              platform, opts.quiet)

    if opts.pull == "always" and named is not None:
        pull()
    # docker sends the terminal's size with every create ([0, 0] without one)
    opts.host_config["ConsoleSize"] = list(stream_size(ctx.out) or (0, 0))
    body = opts.body()
    try:
        reply = ctx.client.create_container(body, name=opts.name, platform=platform)
    except DockerError as err:
        if err.status != 404 or named is None or opts.pull != "missing":
            raise
        if not opts.quiet:
            ctx.err.write(f"Unable to find image "
                          f"'{familiar(named.domain or 'docker.io', named.path)}"
                          f"{':' + named.tag if named.tag else ''}"
                          f"{'@' + named.digest if named.digest else ''}' locally\n")
            ctx.err.flush()
        pull()
        reply = ctx.client.create_container(body, name=opts.name, platform=platform)
    for warning in reply.get("Warnings") or ():
        ctx.err.write(f"WARNING: {warning}\n")
    cid = str(reply["Id"])
    if opts.cidfile:
        try:
            with open(opts.cidfile, "x") as f:
                f.write(cid)
        except OSError as err:
            raise errors.FailedPrecondition(
                f"failed to create the container ID file: {err.strerror.lower()}"
                if err.strerror else str(err)) from None
    return cid


def create(ctx: Context, argv: list[str]) -> int:
    from estiba.cli.docker.runopts import ConfigError, parse_run

    try:
        opts = parse_run(argv, run=False)
    except ConfigError as err:
        ctx.err.write(err.text("create"))
        return err.status
    ctx.out.write(create_container(ctx, opts) + "\n")
    return 0
