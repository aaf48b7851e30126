"""``estiba version [--format F]``: docker's layout, the client described as Estiba."""

from __future__ import annotations

import sys

from estiba.cli.docker.flags import Flag, count, parse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from estiba.cli.docker.context import Context

USAGE = "version [OPTIONS]"
FLAGS = (Flag("format", "f", value=True,
              help="How to print the versions:\n"
                   "'json':             JSON on one line\n"
                   "'TEMPLATE':         the Go template"),)
FLAGS_OF = {"main": FLAGS}

# docker's defaultVersionTemplate, with its "Platform" names
_TEMPLATE = """{{with .Client -}}
Client:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}}\
 (downgraded from {{.DefaultAPIVersion}}){{end}}
 Python version:\t{{.GoVersion}}
 Git commit:\t{{.GitCommit}}
 Built:\t{{.BuildTime}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}

{{- with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- range $key, $value := $component.Details}}
  {{$key}}:\t{{$value}}
   {{- end}}
  {{- end}}
 {{- end}}
 {{- end}}"""


def client_info(api_version: str) -> dict[str, object]:
    from estiba import __version__
    from estiba.client.docker import CLIENT_MAX

    py = ".".join(str(v) for v in sys.version_info[:3])
    return {"Platform": {"Name": "Estiba"}, "Version": __version__,
            "APIVersion": api_version, "DefaultAPIVersion": CLIENT_MAX,
            "GitCommit": "", "GoVersion": f"python{py}", "Os": sys.platform,
            "Arch": _arch(), "BuildTime": "", "Context": "default"}


def _arch() -> str:
    import os

    machine = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def with_engine(server: dict) -> dict:
    """The server's version with an Engine component, as docker adds one when the
    daemon lists none."""
    if not any(c.get("Name") == "Engine" for c in server.get("Components") or ()):
        server = {**server, "Components": [*(server.get("Components") or ()), {
            "Name": "Engine", "Version": server.get("Version", ""),
            "Details": {"ApiVersion": server.get("ApiVersion", ""),
                        "MinAPIVersion": server.get("MinAPIVersion", ""),
                        "GitCommit": server.get("GitCommit", ""),
                        "GoVersion": server.get("GoVersion", ""),
                        "Os": server.get("Os", ""), "Arch": server.get("Arch", ""),
                        "BuildTime": server.get("BuildTime", ""),
                        "Experimental": "true" if server.get("Experimental") else "false"},
        }]}
    return server


def server_info(server: dict) -> dict:
    """types.Version by its Go field names (the API's JSON says ``ApiVersion``)."""
    server = with_engine(server)
    return {"Platform": server.get("Platform") or {"Name": ""},
            "Components": server.get("Components"), "Version": server.get("Version", ""),
            "APIVersion": server.get("ApiVersion", ""),
            "MinAPIVersion": server.get("MinAPIVersion", ""),
            "GitCommit": server.get("GitCommit", ""), "GoVersion": server.get("GoVersion", ""),
            "Os": server.get("Os", ""), "Arch": server.get("Arch", ""),
            "KernelVersion": server.get("KernelVersion", ""),
            "Experimental": bool(server.get("Experimental")),
            "BuildTime": server.get("BuildTime", "")}


def as_json(data: dict) -> str:
    """``--format json``: the structs by their JSON tags, empty ``omitempty`` fields
    left out, as docker's encoder writes them."""
    from estiba.cli.docker.context import Struct
    from estiba.cli.gotemplate.functions import _json

    c = data["Client"]
    client = {"Platform": c["Platform"], "Version": c["Version"], "ApiVersion": c["APIVersion"],
              "DefaultAPIVersion": c["DefaultAPIVersion"], "GitCommit": c["GitCommit"],
              "GoVersion": c["GoVersion"], "Os": c["Os"], "Arch": c["Arch"],
              "BuildTime": c["BuildTime"]}
    fields = {k: v for k, v in client.items() if v}
    fields["Context"] = c["Context"]
    server = None
    if data["Server"] is not None:
        v = data["Server"]
        server = Struct(Platform=Struct(Name=v["Platform"].get("Name", "")),
                        Components=[Struct(Name=x.get("Name", ""), Version=x.get("Version", ""),
                                           **({"Details": x["Details"]} if x.get("Details")
                                              else {}))
                                    for x in v["Components"] or ()],
                        Version=v["Version"], ApiVersion=v["APIVersion"],
                        MinAPIVersion=v["MinAPIVersion"], GitCommit=v["GitCommit"],
                        GoVersion=v["GoVersion"], Os=v["Os"], Arch=v["Arch"],
                        **{k: v[k] for k in ("KernelVersion", "Experimental", "BuildTime")
                           if v[k]})
    return _json(Struct(Client=Struct(**fields), Server=server))


def main(ctx: Context, argv: list[str]) -> int:
    from estiba import errors
    from estiba.cli import gotemplate
    from estiba.cli.gotemplate.tabwriter import tabwriter

    opts, positional = parse(argv, FLAGS)
    count("version", positional, 0, 0)
    fmt = str(opts["format"] or "")
    template = gotemplate.parse(fmt or _TEMPLATE) if fmt != "json" else None
    server: dict | None
    failure: Exception | None = None
    try:
        server = server_info(ctx.client.version())
        api = ctx.client.api_version
    except errors.Unavailable as err:
        server, api, failure = None, "", err
    data = {"Client": client_info(api), "Server": server}
    text = (template.render(data) if template else as_json(data)) + "\n"
    ctx.out.write(tabwriter(text, minwidth=20, padding=1))
    if failure is not None:
        raise failure
    return 0
