"""The image commands' pure parts (references as docker checks them, history rows,
prune's and rmi's text, the plain display of progress streams, the output path's
checks) and the commands against a recording client."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from estiba.cli.docker import images, progress
from estiba.cli.docker.context import Context, render_rows, run_in
from estiba.cli.docker.flags import UsageError, parse
from estiba.cli.docker.reference import BadReference, Named, parse_any, parse_named
from estiba.client.docker import DockerError

BUSYBOX_ID = "sha256:bffd32c92426c10a37d1b60e71458d45a33f7a743c7d68a0735efb2b947650aa"
SRC = Path(__file__).resolve().parents[3] / "src"


# --- references, with the Go library's words ------------------------------------------

@pytest.mark.parametrize(("text", "ref"), [
    ("busybox", Named("docker.io", "library/busybox")),
    ("user/app:1.0", Named("docker.io", "user/app", "1.0")),
    ("index.docker.io/busybox", Named("docker.io", "library/busybox")),
    ("localhost:5000/a/b:z", Named("localhost:5000", "a/b", "z")),
    ("Example.com/a", Named("Example.com", "a")),
    ("a@" + BUSYBOX_ID, Named("docker.io", "library/a", "", BUSYBOX_ID)),
])
def test_named_references_normalised(text: str, ref: Named) -> None:
    assert parse_named(text) == ref


@pytest.mark.parametrize(("text", "message"), [
    ("Bad:x", "invalid reference format: repository name (library/Bad) must be lowercase"),
    ("a:b:c", "invalid reference format"),
    ("x:a b", "invalid reference format"),
    ("", "invalid reference format"),
    ("alpine@sha256:abc", "invalid reference format"),
    ("a@sha256:" + "0" * 63 + "g" + "0" * 2, "invalid reference format"),
    ("a@sha256:" + "0" * 65, "invalid checksum digest length"),
    ("a@md5:" + "0" * 32, "unsupported digest algorithm"),
    ("0" * 64,
     f"invalid repository name ({'0' * 64}), cannot specify 64-byte hexadecimal strings"),
    ("x/" + "a" * 250, "repository name must not be more than 255 characters"),
])
def test_bad_references_in_docker_words(text: str, message: str) -> None:
    with pytest.raises(BadReference) as caught:
        parse_named(text)
    assert str(caught.value) == message


def test_any_reference_takes_ids_and_digests() -> None:
    hex64 = BUSYBOX_ID.partition(":")[2]
    assert parse_any(hex64) == BUSYBOX_ID
    assert parse_any(BUSYBOX_ID) == BUSYBOX_ID
    assert parse_any("bffd") == Named("docker.io", "library/bffd")
    assert str(parse_named("localhost/x@" + BUSYBOX_ID)) == "localhost/x@" + BUSYBOX_ID


# --- history ---------------------------------------------------------------------------

LAYER = {"Id": BUSYBOX_ID, "Created": 1_796_421_886, "CreatedBy": "/bin/sh -c\t" + "x" * 60,
         "Tags": ["busybox:latest"], "Size": 2_129_920, "Comment": "a msg"}


def test_history_rows_human_and_raw() -> None:
    row = images.HistoryRow(LAYER, 1_796_421_886 + 150)
    assert (row.ID, row.CreatedSince, row.Size, row.Comment) \
        == ("bffd32c92426", "2 minutes ago", "2.13MB", "a msg")
    assert row.CreatedBy == "/bin/sh -c " + "x" * 33 + "…"
    raw = images.HistoryRow(LAYER, 0, trunc=False, human=False)
    assert raw.ID == BUSYBOX_ID and raw.Size == "2129920"
    assert raw.CreatedSince == raw.CreatedAt == images.rfc3339(1_796_421_886)
    assert "\t" not in raw.CreatedBy and len(raw.CreatedBy) == 71
    # a built image's zero date: docker shows no age
    assert images.HistoryRow({**LAYER, "Created": 0}, 1e9).CreatedSince == "N/A"


def test_history_json_keys_in_docker_order() -> None:
    out = render_rows("json", [images.HistoryRow(LAYER, 1_796_421_886)], {})
    assert list(json.loads(out)) == ["Comment", "CreatedAt", "CreatedBy", "CreatedSince",
                                     "ID", "Size"]


def test_history_format_and_human_flag() -> None:
    assert images.history_format("", True, True) == "{{.ID}}"
    assert "CreatedAt" in images.history_format("table", False, False)
    assert images.history_format("{{.Size}}", True, True) == "{{.Size}}"
    for argv, human in ((["x"], True), (["-H", "x"], True), (["-H=false", "x"], False),
                        (["--human=0", "x"], False), (["-qH=false", "x"], False),
                        (["--format", "-H=false", "x"], True)):
        assert parse(argv, images.HISTORY_FLAGS)[0]["human"] is human, argv


def test_rfc3339_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    try:
        assert images.rfc3339(0) == "1970-01-01T00:00:00Z"
    finally:
        monkeypatch.undo()
        time.tzset()


# --- rmi's and prune's text ------------------------------------------------------------

def test_removal_lines() -> None:
    assert images.removal_lines([{"Untagged": "busybox:latest"}, {"Deleted": BUSYBOX_ID}]) \
        == f"Untagged: busybox:latest\nDeleted: {BUSYBOX_ID}\n"


def test_prune_text() -> None:
    assert images.prune_text({"ImagesDeleted": None, "SpaceReclaimed": 0}) \
        == "Total reclaimed space: 0B\n"
    report = {"ImagesDeleted": [{"Untagged": "a:1"}, {"Deleted": BUSYBOX_ID}],
              "SpaceReclaimed": 1_038_000}
    assert images.prune_text(report) == (f"Deleted Images:\nuntagged: a:1\ndeleted: "
                                         f"{BUSYBOX_ID}\n\nTotal reclaimed space: 1.038MB\n")


def test_prune_filters() -> None:
    assert images.prune_filters(["until=1h"], False) \
        == {"until": ["1h"], "dangling": ["true"]}
    assert images.prune_filters([], True) == {"dangling": ["false"]}
    with pytest.raises(UsageError) as caught:
        images.prune_filters(["bogus"], False)
    assert str(caught.value) == ('invalid argument "bogus" for "--filter" flag: bad format '
                                 "of filter (expected name=value)")


# --- the output path -------------------------------------------------------------------

def test_output_problems(tmp_path: Path) -> None:
    assert images.output_problem(str(tmp_path / "new.tar")) == ""
    (tmp_path / "old.tar").write_bytes(b"x")
    assert images.output_problem(str(tmp_path / "old.tar")) == ""
    assert images.output_problem(str(tmp_path)) == "cannot write to a directory"
    assert images.output_problem(str(tmp_path / "none" / "x.tar")) == (
        f"invalid output path: stat {tmp_path}/none: no such file or directory")
    assert images.output_problem(str(tmp_path / "old.tar" / "x.tar")) == (
        f"invalid output path: stat {tmp_path}/old.tar: not a directory")
    os.mkfifo(tmp_path / "fifo")
    assert images.output_problem(str(tmp_path / "fifo")) \
        == "cannot write to a named pipe (FIFO)"
    os.symlink("old.tar", tmp_path / "link")
    assert images.output_problem(str(tmp_path / "link")) \
        == "cannot write to a symbolic link directly"


def test_go_path_error() -> None:
    err = FileNotFoundError(2, "No such file or directory")
    assert images.go_path_error("open", "x.tar", err) == "open x.tar: no such file or directory"


# --- progress streams without a terminal -----------------------------------------------

@pytest.mark.parametrize(("message", "text"), [
    ({"stream": "Loaded image: busybox:latest\n"}, "Loaded image: busybox:latest\n"),
    ({"status": "sha256:abc"}, "sha256:abc\n"),
    ({"status": "Pulling fs layer", "id": "a1", "progressDetail": {}}, "a1: Pulling fs layer\n"),
    ({"status": "Downloading", "id": "a1", "progressDetail": {"current": 5, "total": 9}}, ""),
    ({"status": "Loading layer", "progress": "[=>  ] 1MB/2MB"},
     "Loading layer [=>  ] 1MB/2MB"),
    ({"status": "pulled", "id": "x", "from": "y"}, "x: (from y) pulled\n"),
])
def test_plain_text_as_docker_without_a_terminal(message: dict, text: str) -> None:
    assert progress.plain_text(message) == text


def test_show_skips_aux_and_stops_at_an_error() -> None:
    out = io.StringIO()
    messages = [{"aux": {"ID": "x"}}, {"status": "one"},
                {"errorDetail": {"message": "it broke"}, "error": "it broke"},
                {"status": "never"}]
    with pytest.raises(progress.StreamError) as caught:
        progress.show(messages, out)
    assert (str(caught.value), out.getvalue()) == ("it broke", "one\n")
    assert progress.error_of({"errorDetail": {"code": 401, "message": "no"}}) \
        == "authentication is required"
    assert progress.terminal_bars(io.StringIO()) is None


def test_bars_one_per_transfer_and_per_id() -> None:
    """The bars drawn (rich renders them once, at the end, off a terminal): a line of
    text ends the bars above it."""
    rich_progress = pytest.importorskip("rich.progress")
    out = io.StringIO()
    bars = progress.Bars(out, rich_progress)
    bars.transfer("Loading", 100)(100)
    progress.show([
        {"status": "Loading layer", "id": "a1", "progressDetail": {"current": 5, "total": 10}},
        {"status": "Loading layer", "id": "b2", "progressDetail": {"current": 1, "total": 10}},
        {"status": "Loading layer", "id": "a1", "progressDetail": {"current": 10, "total": 10}},
        {"status": "Done", "id": "b2", "progressDetail": {}},
        {"stream": "Loaded image: x:1\n"}], out, bars)
    lines = out.getvalue().splitlines()
    assert [line.split()[:2] for line in lines[:3]] \
        == [["Loading", lines[0].split()[1]], ["a1:", "Loading"], ["b2:", "Done"]]
    assert lines[0].split()[1].startswith("━━━")
    assert "100/100 bytes" in lines[0] and "10/10 bytes" in lines[1] \
        and "10/10 bytes" in lines[2]
    assert lines[3:] == ["Loaded image: x:1"]


def test_counted_reports_each_read() -> None:
    seen: list[int] = []
    counted = progress.Counted(io.BytesIO(b"x" * 10), seen.append)
    assert counted.read(4) + counted.read() == b"x" * 10 and counted.read() == b""
    assert seen == [4, 6]


# --- the commands against a recording client -------------------------------------------

class FakeClient:
    api_version = "1.47"

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def remove_image(self, name: str, **kw: object) -> list[dict]:
        self.calls.append(("rmi", name, kw))
        if name == "nosuch":
            raise DockerError(404, "No such image: nosuch:latest")
        if name == "used":
            raise DockerError(409, "conflict: unable to delete used")
        return [{"Untagged": f"{name}:latest"}, {"Deleted": BUSYBOX_ID}]

    def tag(self, name: str, repo: str, tag: str = "") -> None:
        self.calls.append(("tag", name, repo, tag))

    def history(self, name: str) -> list[dict]:
        return [LAYER]

    def pull(self, name: str, tag: str = "", platform: str = "") -> Iterator[dict]:
        self.calls.append(("pull", name, tag, platform))
        yield {"status": "Pulling from library/alpine", "id": "latest"}
        yield {"status": "Downloading", "id": "a1", "progressDetail": {"current": 1,
                                                                        "total": 2}}
        yield {"status": "Status: Downloaded newer image for alpine:latest"}

    def save(self, names: list[str]) -> Iterator[bytes]:
        self.calls.append(("save", names))
        yield b"tar "
        yield b"bytes"

    def load(self, data: object) -> Iterator[dict]:
        body = data.read()  # type: ignore[attr-defined]
        self.calls.append(("load", body))
        return iter([{"stream": "Loaded image: busybox:latest\n"}])

    def import_from(self, source: str, data: object = None, **kw: object) -> Iterator[dict]:
        body = data.read() if data is not None else None  # type: ignore[attr-defined]
        self.calls.append(("import", source, body, kw))
        return iter([{"status": BUSYBOX_ID}])

    def prune_images(self, filters: dict) -> dict:
        self.calls.append(("prune", filters))
        return {"ImagesDeleted": [{"Deleted": BUSYBOX_ID}], "SpaceReclaimed": 710}


def context() -> tuple[Context, FakeClient]:
    ctx = Context("unix:///x.sock", io.StringIO(), io.StringIO())
    fake = FakeClient()
    ctx._client = fake  # type: ignore[assignment]
    return ctx, fake


def test_rmi_reports_and_fails_as_docker() -> None:
    ctx, fake = context()
    assert images.rmi(ctx, ["a", "nosuch"]) == 1
    assert ctx.out.getvalue() == f"Untagged: a:latest\nDeleted: {BUSYBOX_ID}\n"
    assert ctx.err.getvalue() == "Error response from daemon: No such image: nosuch:latest\n"
    assert fake.calls[0] == ("rmi", "a", {"force": False, "noprune": False})
    # forced, an image that is not there is reported but does not fail the command
    ctx, fake = context()
    assert images.rmi(ctx, ["-f", "--no-prune", "nosuch"]) == 0
    assert fake.calls[0][2] == {"force": True, "noprune": True}
    ctx, _ = context()
    assert images.rmi(ctx, ["-f", "nosuch", "used"]) == 1
    assert ctx.err.getvalue().splitlines()[1] \
        == "Error response from daemon: conflict: unable to delete used"


def test_tag_normalises_the_target() -> None:
    ctx, fake = context()
    assert images.tag(ctx, ["busybox", "me/app"]) == 0
    assert images.tag(ctx, ["bffd", "localhost:5000/x:v1"]) == 0
    assert fake.calls == [("tag", "busybox", "docker.io/me/app", "latest"),
                          ("tag", "bffd", "localhost:5000/x", "v1")]
    ctx, fake = context()
    assert run_in(ctx, "tag", "", images.tag, ["busybox", "Bad"]) == 1
    assert ctx.err.getvalue() == ('Error parsing reference: "Bad" is not a valid '
                                  "repository/tag: invalid reference format: repository "
                                  "name (library/Bad) must be lowercase\n")
    assert fake.calls == []


def test_tag_request_checks_both_references() -> None:
    assert images.tag_request(BUSYBOX_ID, "a") == ("docker.io/library/a", "latest")
    with pytest.raises(BadReference, match="^refusing to create a tag with a digest"):
        images.tag_request("busybox", "x@" + BUSYBOX_ID)
    hex64 = "0" * 64
    with pytest.raises(BadReference) as caught:
        images.tag_request("busybox", hex64)
    assert str(caught.value) == (f'Error parsing reference: "{hex64}" is not a valid '
                                 f"repository/tag: invalid repository name ({hex64}), "
                                 "cannot specify 64-byte hexadecimal strings")


def test_history_command() -> None:
    ctx, _ = context()
    assert images.history(ctx, ["-q", "--no-trunc", "busybox"]) == 0
    assert ctx.out.getvalue() == BUSYBOX_ID + "\n"


def test_pull_tells_the_default_tag_and_prints_the_reference() -> None:
    ctx, fake = context()
    assert images.pull(ctx, ["--platform", "Linux/AMD64", "alpine"]) == 0
    assert fake.calls == [("pull", "docker.io/library/alpine", "latest", "linux/amd64")]
    assert ctx.out.getvalue() == ("Using default tag: latest\nlatest: Pulling from "
                                  "library/alpine\nStatus: Downloaded newer image for "
                                  "alpine:latest\ndocker.io/library/alpine:latest\n")
    ctx, fake = context()
    assert images.pull(ctx, ["-aq", "alpine"]) == 0
    assert fake.calls == [("pull", "docker.io/library/alpine", "", "")]
    assert ctx.out.getvalue() == "docker.io/library/alpine\n"
    ctx, fake = context()
    assert run_in(ctx, "pull", "", images.pull, ["-a", "alpine:3"]) == 1
    assert ctx.err.getvalue() == "tag can't be used with --all-tags/-a\n"


def test_save_to_a_file_atomically(tmp_path: Path) -> None:
    ctx, fake = context()
    target = tmp_path / "out.tar"
    assert images.save(ctx, ["-o", str(target), "busybox", "x"]) == 0
    assert target.read_bytes() == b"tar bytes"
    assert target.stat().st_mode & 0o777 == 0o600
    assert fake.calls == [("save", ["busybox", "x"])]
    assert os.listdir(tmp_path) == ["out.tar"]
    ctx, fake = context()
    assert run_in(ctx, "save", "", images.save, ["-o", str(tmp_path), "busybox"]) == 1
    assert ctx.err.getvalue() == "failed to save image: cannot write to a directory\n"
    assert fake.calls == []


def test_load_and_import_send_the_file(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    archive.write_bytes(b"archive")
    ctx, fake = context()
    assert images.load(ctx, ["-i", str(archive)]) == 0
    assert ctx.out.getvalue() == "Loaded image: busybox:latest\n"
    assert fake.calls == [("load", b"archive")]
    ctx, fake = context()
    assert images.import_(ctx, ["-m", "msg", "-c", "ENV A=b", "-c", "CMD x",
                                "--platform", "Linux", str(archive), "me/fs:1"]) == 0
    assert ctx.out.getvalue() == BUSYBOX_ID + "\n"
    assert fake.calls == [("import", "-", b"archive", {
        "repo": "me/fs:1", "message": "msg", "changes": ["ENV A=b", "CMD x"],
        "platform": "linux"})]
    ctx, fake = context()
    assert images.import_(ctx, ["http://127.0.0.1:1/x.tar"]) == 0
    assert fake.calls[0][:3] == ("import", "http://127.0.0.1:1/x.tar", None)
    ctx, fake = context()
    assert run_in(ctx, "load", "", images.load, ["-i", str(tmp_path / "none.tar")]) == 1
    assert ctx.err.getvalue() == f"open {tmp_path}/none.tar: no such file or directory\n"
    ctx, fake = context()
    assert run_in(ctx, "import", "", images.import_, [str(archive), "Bad"]) == 1
    assert ctx.err.getvalue() == ("invalid reference format: repository name (library/Bad) "
                                  "must be lowercase\n")
    assert fake.calls == []


def test_prune_forced() -> None:
    ctx, fake = context()
    assert images.prune(ctx, ["-af", "--filter", "until=1h"]) == 0
    assert fake.calls == [("prune", {"until": ["1h"], "dangling": ["false"]})]
    assert ctx.out.getvalue() == (f"Deleted Images:\ndeleted: {BUSYBOX_ID}\n\n"
                                  "Total reclaimed space: 710B\n")


def test_no_rich_without_a_terminal(tmp_path: Path) -> None:
    """Progress bars cost an import of rich: a command whose output is no terminal
    must not pay it (``estiba`` starts Python with -S, as here)."""
    archive = tmp_path / "a.tar"
    archive.write_bytes(b"archive")
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-m", "estiba.cli",
         "-H", f"unix://{tmp_path}/none.sock", "load", "-i", str(archive)],
        env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    modules = [line.rpartition("|")[2].strip() for line in result.stderr.splitlines()
               if line.startswith("import time:")]
    assert "estiba.cli.docker.progress" in modules
    assert not [m for m in modules if m.split(".")[0] in ("rich", "site")]


@pytest.mark.parametrize("text", [
    "busybox", "busybox:latest", "library/redis:7.2", "a/b/c:v1.0-x", "localhost/x",
    "x2/y_z", "busybox:_t", "a" * 63, "registry:5000/x", "busybox@sha256:" + "a" * 64,
    "sha256:" + "b" * 64,
])
def test_everyday_references_read_as_the_grammar_reads_them(text: str) -> None:
    from estiba.cli.docker import reference

    fast = reference._plain(text)
    if fast is not None:
        full = reference.parse_named_fully(text)
        assert (fast.domain, fast.path, fast.tag, fast.digest) == (
            full.domain, full.path, full.tag, full.digest)
