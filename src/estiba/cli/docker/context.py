"""What every command shares: the daemon's address, the client (made on first use),
the output streams, and the translation of errors to docker's lines and statuses."""

from __future__ import annotations

import sys

from estiba.cli.docker.flags import ArgumentsError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TextIO

    from estiba.client.docker import APIClient



class Environ:
    """The process's environment by name (``get``, ``in``, ``[]``), read from
    ``posix.environ``: ``os``, whose ``environ`` this is otherwise, costs about 1 ms to
    import in an interpreter started without site (-S), a tenth of ``estiba ps``."""

    def get(self, name: str, default: str | None = None) -> str | None:
        import posix

        value = posix.environ.get(name.encode("utf-8", "surrogateescape"))
        return default if value is None else value.decode("utf-8", "surrogateescape")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value


ENVIRON = Environ()


def host_of(flag: str | None, environ: Mapping[str, str] | Environ) -> str:
    """``--host``, else ``$ESTIBA_HOST``, else ``$DOCKER_HOST``, else the default
    (``unix://PATH`` or ``tcp://HOST:PORT``: ``client.docker.address_of`` reads it)."""
    from estiba.client.docker import environment_host

    return flag or environment_host(environ)


class Context:
    def __init__(self, host: str, out: TextIO | None = None,
                 err: TextIO | None = None) -> None:
        self.host = host
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self._client: APIClient | None = None

    @property
    def client(self) -> APIClient:
        if self._client is None:
            from estiba.client.docker import APIClient

            # the environment too: $DOCKER_TLS_VERIFY asks for TLS whoever names the host
            self._client = APIClient(self.host, ping_first=False, environ=ENVIRON)
        return self._client

    @property
    def daemon(self) -> str:
        """The daemon's address as docker names it in errors (``tcp://localhost:2375``
        for ``tcp://``), once the client has read it; the host as given before."""
        return self._client.host if self._client is not None else self.host

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def usage_text(command: str, usage: str, message: str) -> str:
    """pflag's error as docker prints it, with its usage line (``usage`` starts with
    the command's name)."""
    return (f"{message}\n\nUsage:  estiba {usage}\n\n"
            f"Run 'estiba {command} --help' for more information\n")


def named(message: str, command: str) -> str:
    """An arguments error naming the command as it was run: a body names itself by its
    top-level name (``'estiba ps' accepts no arguments``), docker by the path typed
    (``'docker container ls' ...``)."""
    if not message.startswith("'estiba "):
        return message
    end = message.find("'", 1)
    return f"'estiba {command}'{message[end + 1:]}" if end > 0 else message


def run(command: str, usage: str, body: Callable[[Context, list[str]], int],
        argv: list[str], host: str | None) -> int:
    """Run a command's body; the exit status, errors written as docker writes them."""
    ctx = Context(host_of(host, ENVIRON))
    try:
        return run_in(ctx, command, usage, body, argv)
    finally:
        ctx.close()


def run_in(ctx: Context, command: str, usage: str,
           body: Callable[[Context, list[str]], int], argv: list[str]) -> int:
    """``run`` with the context given: the body's status, or its error written to
    ``ctx.err`` as docker writes it, and docker's status for it."""
    try:
        return body(ctx, argv)
    except ArgumentsError as err:
        ctx.err.write(f"estiba: {named(str(err), command)}\n\nUsage:  estiba {usage}\n\n"
                      f"{err.hint} 'estiba {command} --help' for more information\n")
        return err.status
    except UsageError as err:
        ctx.err.write(usage_text(command, usage, str(err)))
        return err.status
    except Exception as err:
        from estiba import errors  # loaded only when something failed

        # A daemon's refusal first: the client's typed errors are Estiba errors too. Its
        # module is looked up, not imported: it is loaded once a command talks to it.
        client = sys.modules.get("estiba.client.docker")
        if client is not None and isinstance(err, client.DockerError):
            ctx.err.write(f"Error response from daemon: {err.message}\n")
            return 1
        if isinstance(err, errors.Unavailable):
            ctx.err.write(f"Cannot connect to the Estiba daemon at {ctx.daemon}. "
                          "Is the estiba daemon running?\n")
            return 1
        if isinstance(err, errors.EstibaError):
            ctx.err.write(f"{err}\n")
            return 1
        raise


def each(ctx: Context, names: list[str], act: Callable[[str], object],
         shown: Callable[[str, object], str] | None = None) -> int:
    """Act on each object named, in the order given (``stop``, ``rm``, ``volume rm``
    ...): its name as given once done (or ``shown(name, result)``), the daemon's
    refusals after all of them, status 1 if any."""
    from estiba.client.docker import DockerError

    failed = []
    for name in names:
        try:
            result = act(name)
        except DockerError as err:
            failed.append(f"Error response from daemon: {err.message}")
            continue
        ctx.out.write((name if shown is None else shown(name, result)) + "\n")
        ctx.out.flush()
    if failed:
        ctx.err.write("\n".join(failed) + "\n")
        return 1
    return 0


class Struct:
    """A Go struct for ``json``: its fields in declared order, named by their JSON tags
    (the template functions print an object's ``__fields__`` in that order)."""

    def __init__(self, **fields: object) -> None:
        self.__fields__ = tuple(fields)
        self.__dict__.update(fields)


def html_escape(text: str) -> str:
    """What Go's json.Marshal does to ``<``, ``>`` and ``&`` (the rows' MarshalJSON
    uses it, unlike the ``json`` function's own encoder)."""
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# how docker words a --format that fails: (does not parse, fails while it runs); ps has
# wordings of its own
TEMPLATE_ERRORS = ("template parsing error: ", "template parsing error: ")
PS_TEMPLATE_ERRORS = ("failed to parse template: ", "failed to execute template: ")


def render_rows(fmt: str, rows: list, headers: dict[str, str],
                errors: tuple[str, str] = TEMPLATE_ERRORS) -> str:
    """A list command's output for ``--format``: ``json`` as the rows' MarshalJSON
    prints each, anything else through the template engine (its errors worded as
    ``errors`` says)."""
    if fmt.strip() in ("json", "{{json .}}"):
        from estiba.cli.gotemplate.functions import _json

        return "".join(html_escape(_json(row)) + "\n" for row in rows)
    from estiba.cli.gotemplate import render_table

    try:
        return render_table(fmt, rows, headers)
    except Exception as err:
        from estiba.cli.gotemplate import TemplateError

        if not isinstance(err, TemplateError):
            raise
        said = str(err)
        raise TemplateError(errors['executing "' in said] + said) from None
