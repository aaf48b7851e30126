"""Pure formatting of the docker-compatible commands: ps rows, ports, sizes, times,
image rows, the version's layout, and the commands against a recording client."""

from __future__ import annotations

import io

import pytest

from estiba.cli.docker import containers, images, inspect, output, version
from estiba.cli.docker.context import Context, host_of, render_rows
from estiba.client.docker import DockerError

NOW = 1_800_000_000.0

WEB = {
    "Id": "cbd694a030b7f625df728d141641a868427aebd81d697da59e13f52ebe531a12",
    "Names": ["/web"], "Image": "busybox",
    "ImageID": "sha256:bffd32c92426c10a37d1b60e71458d45a33f7a743c7d68a0735efb2b947650aa",
    "Command": "httpd -f -p 80 -h /var/www/html", "Created": NOW - 5,
    "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 18200, "Type": "tcp"}],
    "State": "running", "Status": "Up 4 seconds", "Labels": {"b": "2", "a": "1"},
    "Mounts": [], "NetworkSettings": {"Networks": {"bridge": {}}},
}


# --- sizes, durations, times --------------------------------------------------------

@pytest.mark.parametrize(("size", "text"), [
    (0, "0B"), (999, "999B"), (1000, "1kB"), (8192, "8.19kB"), (1_040_000, "1.04MB"),
    (4_261_999, "4.26MB"), (2_500_000_000, "2.5GB"),
])
def test_human_size_three_digits(size: int, text: str) -> None:
    assert output.human_size(size, 3) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (0.4, "Less than a second"), (1, "1 second"), (59, "59 seconds"),
    (60, "About a minute"), (150, "2 minutes"), (3600, "About an hour"),
    (3 * 86400, "3 days"), (3 * 7 * 86400, "3 weeks"), (90 * 86400, "3 months"),
    (NOW, "57 years"),
])
def test_human_duration(seconds: float, text: str) -> None:
    assert output.human_duration(seconds) == text


def test_created_at_and_ids() -> None:
    assert output.created_at(0) == "1970-01-01 00:00:00 +0000 UTC"
    assert output.created_at(1_796_420_093) == "2026-12-04 21:34:53 +0000 UTC"
    assert output.truncate_id("sha256:bffd32c92426c10a37d1") == "bffd32c92426"
    assert output.truncate_id("cbd694a030b7f625") == "cbd694a030b7"


def test_ellipsis_and_quote() -> None:
    assert output.ellipsis("httpd -f -p 80 -h /var/www", 20) == "httpd -f -p 80 -h /…"
    assert output.ellipsis("short", 20) == "short"
    assert output.go_quote('sh -c "echo\tx"\n') == '"sh -c \\"echo\\tx\\"\\n"'


def test_go_path_error_and_host_port() -> None:
    import errno
    import os

    missing = FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/x")
    assert output.go_path_error("open", "/x", missing) == "open /x: no such file or directory"
    assert output.join_host_port("::", "80") == "[::]:80"
    assert output.join_host_port("0.0.0.0", "80") == "0.0.0.0:80"


# --- ports ----------------------------------------------------------------------------

def port(private: int, kind: str = "tcp", ip: str = "", public: int = 0) -> dict:
    return {"PrivatePort": private, "Type": kind, "IP": ip, "PublicPort": public}


def test_ports_published_and_exposed() -> None:
    assert output.ports([port(443), port(80, ip="0.0.0.0", public=8080)]) \
        == "443/tcp, 0.0.0.0:8080->80/tcp"
    assert output.ports([]) == "" and output.ports(None) == ""


def test_ports_grouped_in_runs() -> None:
    ps = [port(8001), port(8000), port(8002), port(9000), port(53, "udp")]
    # docker's order: runs closed early first, then the open groups by first sight
    assert output.ports(ps) == "8000-8002/tcp, 53/udp, 9000/tcp"
    same = [port(p, ip="0.0.0.0", public=p) for p in (7000, 7001)]
    assert output.ports(same) == "0.0.0.0:7000-7001->7000-7001/tcp"
    v6 = [port(80, ip="::", public=8080)]
    assert output.ports(v6) == "[::]:8080->80/tcp"


# --- ps -----------------------------------------------------------------------------

def test_ps_row_truncated() -> None:
    row = output.ContainerRow(WEB, NOW)
    assert row.ID == "cbd694a030b7"
    assert row.Command == '"httpd -f -p 80 -h /…"'
    assert row.RunningFor == "5 seconds ago"
    assert row.Ports == "0.0.0.0:18200->80/tcp"
    assert row.Names == "web" and row.Image == "busybox"
    assert row.Labels == "a=1,b=2" and row.Label("b") == "2"
    assert row.Size == "0B" and row.Networks == "bridge" and row.LocalVolumes == "0"


def test_ps_row_untruncated_and_image_by_id() -> None:
    row = output.ContainerRow({**WEB, "Names": ["/web", "/other/link"]}, NOW, trunc=False)
    full_id = row.ID
    assert full_id == WEB["Id"]
    assert row.Command == '"httpd -f -p 80 -h /var/www/html"'
    assert row.Names == "web,other/link"
    by_id = output.ContainerRow({**WEB, "Image": WEB["ImageID"]}, NOW)
    assert by_id.Image == "bffd32c92426"
    sized = output.ContainerRow({**WEB, "SizeRw": 8192, "SizeRootFs": 1_040_000}, NOW)
    assert sized.Size == "8.19kB (virtual 1.04MB)"


def test_ps_default_table() -> None:
    fmt = containers.ps_format("", False, False)
    text = render_rows(fmt, [output.ContainerRow(WEB, NOW)], output.CONTAINER_HEADERS)
    assert text == (
        "CONTAINER ID   IMAGE     COMMAND                  CREATED         STATUS         "
        "PORTS                   NAMES\n"
        'cbd694a030b7   busybox   "httpd -f -p 80 -h /…"   5 seconds ago   Up 4 seconds   '
        "0.0.0.0:18200->80/tcp   web\n")
    assert containers.ps_format("table", True, False) == "{{.ID}}"
    assert containers.ps_format("", False, True).endswith("\t{{.Size}}")
    assert containers.ps_format("{{.Names}}", False, False) == "{{.Names}}"


def test_ps_json_escapes_as_marshal() -> None:
    text = render_rows("json", [output.ContainerRow(WEB, NOW)], output.CONTAINER_HEADERS)
    assert text.startswith('{"Command":"\\"httpd -f -p 80 -h /…\\"","CreatedAt":')
    assert '"Ports":"0.0.0.0:18200-\\u003e80/tcp"' in text and '"Platform":null' in text


# --- images ---------------------------------------------------------------------------

IMAGE = {"Id": "sha256:bffd32c92426c10a37d1b60e71458d45a33f7a743c7d68a0735efb2b947650aa",
         "RepoTags": ["busybox:latest", "mytag/bb:v1", "localhost:5000/x/y:2"],
         "RepoDigests": ["busybox@sha256:abc"], "Created": 0, "Size": 1_040_000}


def test_image_rows_per_repository_and_tag() -> None:
    rows = output.image_rows([IMAGE], NOW)
    assert [(r.Repository, r.Tag, r.Digest) for r in rows] == [
        ("busybox", "latest", "<none>"), ("localhost:5000/x/y", "2", "<none>"),
        ("mytag/bb", "v1", "<none>")]
    assert rows[0].ID == "bffd32c92426" and rows[0].Size == "1.04MB"
    assert rows[0].CreatedSince == "57 years ago"
    digested = output.image_rows([IMAGE], NOW, digests=True)
    assert digested[0].Digest == "sha256:abc"
    dangling = output.image_rows([{**IMAGE, "RepoTags": [], "RepoDigests": []}], NOW)
    assert [(r.Repository, r.Tag) for r in dangling] == [("<none>", "<none>")]
    digest_only = output.image_rows([{**IMAGE, "RepoTags": []}], NOW)
    assert [(r.Repository, r.Tag, r.Digest) for r in digest_only] == [("busybox", "<none>", "")]


def test_images_format() -> None:
    assert images.images_format("", True, False) == "{{.ID}}"
    assert "{{.Digest}}" in images.images_format("", False, True)
    assert images.images_format("table {{.ID}}", False, True) == "table {{.ID}}\t{{.Digest}}"


# --- the commands against a recording client -------------------------------------------

class FakeClient:
    api_version = "1.47"

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def containers(self, **kw: object) -> list[dict]:
        self.calls.append(("containers", kw))
        return [WEB]

    def remove_container(self, name: str, **kw: object) -> None:
        self.calls.append(("rm", name, kw))
        if name == "nosuch":
            raise DockerError(404, "No such container: nosuch")

    def inspect_container(self, name: str) -> dict:
        if name == "web":
            return {"Id": "abc", "State": {"Status": "running"}}
        raise DockerError(404, f"No such container: {name}")

    def inspect_image(self, name: str) -> dict:
        raise DockerError(404, f"No such image: {name}")

    inspect_network = inspect_volume = inspect_image

    def version(self) -> dict:
        return {"Version": "0.1.0", "ApiVersion": "1.47", "MinAPIVersion": "1.24",
                "Os": "linux", "Arch": "amd64", "GoVersion": "python3.11.2",
                "Platform": {"Name": "Estiba Engine"}}


def context() -> tuple[Context, FakeClient]:
    ctx = Context("unix:///x.sock", io.StringIO(), io.StringIO())
    fake = FakeClient()
    ctx._client = fake  # type: ignore[assignment]
    return ctx, fake


def test_ps_asks_the_daemon_as_docker_does() -> None:
    ctx, fake = context()
    assert containers.ps(ctx, ["-a", "-l", "--filter", "status=exited", "-f", "name=w",
                               "--format", "{{.Size}}"]) == 0
    assert fake.calls == [("containers", {"all": True, "limit": 1, "size": True,
                                          "filters": {"status": ["exited"],
                                                      "name": ["w"]}})]
    assert ctx.out.getvalue() == "0B\n"


def test_rm_prints_names_and_collects_errors() -> None:
    ctx, fake = context()
    assert containers.rm(ctx, ["-f", "web", "nosuch"]) == 1
    assert ctx.out.getvalue() == "web\n"
    assert ctx.err.getvalue() == "Error response from daemon: No such container: nosuch\n"
    assert fake.calls[0] == ("rm", "web", {"force": True, "volumes": False})


def test_inspect_template_and_missing() -> None:
    ctx, _ = context()
    assert inspect.main(ctx, ["-f", "{{.State.Status}}", "web", "nosuch"]) == 1
    assert ctx.out.getvalue() == "running\n"
    assert ctx.err.getvalue() == "Error: No such object: nosuch\n"
    ctx, _ = context()
    assert inspect.main(ctx, ["web"]) == 0
    assert ctx.out.getvalue() == ('[\n    {\n        "Id": "abc",\n        "State": {\n'
                                  '            "Status": "running"\n        }\n    }\n]\n')


def test_version_layout() -> None:
    ctx, _ = context()
    assert version.main(ctx, []) == 0
    lines = ctx.out.getvalue().splitlines()
    assert lines[0] == "Client: Estiba"
    assert lines[2] == " API version:       1.47"
    assert "Server: Estiba Engine" in lines and " Engine:" in lines
    assert "  API version:      1.47 (minimum version 1.24)" in lines
    ctx, _ = context()
    version.main(ctx, ["--format", "{{.Server.APIVersion}}"])
    assert ctx.out.getvalue() == "1.47\n"


def test_host() -> None:
    assert host_of("unix:///a", {"ESTIBA_HOST": "unix:///b"}) == "unix:///a"
    assert host_of(None, {"ESTIBA_HOST": "unix:///b", "DOCKER_HOST": "unix:///c"}) \
        == "unix:///b"
    assert host_of(None, {"DOCKER_HOST": "unix:///c"}) == "unix:///c"
    assert host_of(None, {}) == "unix:///run/estiba/estiba.sock"
