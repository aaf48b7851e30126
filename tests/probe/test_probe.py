"""The probe's report, checked on the host: run it as a plain child process, whose every
answer the test knows, and parse what it prints as strict JSON."""

from __future__ import annotations

import json
import os
import resource
import subprocess
from pathlib import Path

import pytest

from support.probe import (
    UNLIMITED,
    ProbeError,
    ProbeReport,
    build_probe,
    cap_mask,
    cap_names,
    parse_probe,
)

# Values that need escaping: quotes, backslashes, control characters, non-ASCII, and
# bytes that are not UTF-8 (reported as U+FFFD).
TRICKY = {
    "QUOTE": 'say "hi"',
    "BACKSLASH": "C:\\dir\\",
    "CONTROL": "tab\there\nnewline\rcr\x01\x1f\x7f",
    "UNICODE": "añ€😀",
}


def _status(pid: int | str, field: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    raise KeyError(field)


@pytest.fixture(scope="module")
def host_report(probe_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[
        ProbeReport, str, dict[str, str]]:
    """The probe run on the host with a known cwd, umask, environment and extra fd."""
    cwd = tmp_path_factory.mktemp("cwd")
    odd_name = cwd / 'a "file"\twith\nodd name'
    env = dict(TRICKY, PATH="/usr/bin:/bin")
    env_bytes = {k.encode(): v.encode() for k, v in env.items()}
    env_bytes[b"NOT_UTF8"] = b"\xff\xfe ok \xc3"
    with open(odd_name, "w") as extra:
        out = subprocess.run(
            [str(probe_binary)], cwd=cwd, env=env_bytes, umask=0o027, pass_fds=[extra.fileno()],
            stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=30,
            process_group=0,
        )
        fd = extra.fileno()
    text = out.stdout.decode("utf-8")  # the probe writes UTF-8 only
    report = parse_probe(text)
    return report, text, {"cwd": str(cwd), "odd": str(odd_name), "fd": str(fd)}


def test_output_is_one_strict_json_object(host_report) -> None:
    _, text, _ = host_report
    assert text.endswith("}\n")
    assert text.count("\n") == 1
    data = json.loads(text, strict=True)
    assert set(data) >= {
        "pid", "ppid", "uid", "gid", "euid", "egid", "groups", "umask", "capabilities",
        "no_new_privs", "seccomp", "hostname", "domainname", "cwd", "namespaces",
        "cgroups", "mounts", "rlimits", "env", "fds", "oom_score_adj",
    }


def test_identity(host_report) -> None:
    report, _, _ = host_report
    assert report.ppid == os.getpid()
    assert report.pgid == report.pid  # process_group=0
    assert report.sid == os.getsid(0)
    assert (report.uid, report.gid, report.euid, report.egid) == (
        os.getuid(), os.getgid(), os.geteuid(), os.getegid())
    assert sorted(report.groups) == sorted(os.getgroups())
    assert report.umask == 0o027
    assert report.oom_score_adj == int(Path("/proc/self/oom_score_adj").read_text())


def test_privileges(host_report) -> None:
    report, _, _ = host_report
    for cap_set in ("CapBnd", "CapInh", "CapAmb"):
        assert report.capabilities[cap_set] == int(_status("self", cap_set), 16)
    assert report.raw["capabilities"]["CapBnd"] == _status("self", "CapBnd")
    assert report.no_new_privs == int(_status("self", "NoNewPrivs"))
    assert report.seccomp == int(_status("self", "Seccomp"))
    if os.geteuid() == 0 and report.capabilities["CapBnd"] >> 21 & 1:
        assert "CAP_SYS_ADMIN" in report.caps("CapEff")


def test_names_and_places(host_report) -> None:
    report, _, known = host_report
    uts = os.uname()
    assert report.hostname == uts.nodename
    assert report.cwd == known["cwd"]
    for ns in ("cgroup", "ipc", "mnt", "net", "pid", "uts", "user"):
        assert report.namespaces[ns] == os.readlink(f"/proc/self/ns/{ns}")
    assert list(report.cgroups) == Path("/proc/self/cgroup").read_text().splitlines()
    assert report.uid_map == tuple(
        tuple(int(x) for x in line.split())
        for line in Path("/proc/self/uid_map").read_text().splitlines()
    )


def test_mounts(host_report) -> None:
    report, _, _ = host_report
    ours = [line.split() for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    assert [m.target for m in report.mounts] == [
        f[4].replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
        .replace("\\134", "\\") for f in ours
    ]
    root = report.mount("/")
    assert root.fstype
    assert root.options[0] in ("rw", "ro")
    proc = report.mount("/proc")
    assert proc.fstype == "proc"


def test_rlimits(host_report) -> None:
    report, _, _ = host_report

    def kernel(value: int) -> int:
        return UNLIMITED if value == resource.RLIM_INFINITY else value

    for name, which in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        soft, hard = resource.getrlimit(which)
        assert report.rlimits[name] == (kernel(soft), kernel(hard))


def test_environment_is_escaped(host_report) -> None:
    report, _, _ = host_report
    env = report.environ()
    for name, value in TRICKY.items():
        assert env[name] == value
    assert env["NOT_UTF8"] == "\ufffd\ufffd ok \ufffd"
    assert env["PATH"] == "/usr/bin:/bin"


def test_fds(host_report) -> None:
    report, _, known = host_report
    targets = report.fd_targets()
    assert targets[int(known["fd"])] == known["odd"]
    assert targets[0] == "/dev/null"
    assert targets[1].startswith("pipe:[")
    assert not [t for t in targets.values() if t == "/proc/self/fd" or "/fd" in (t or "")]


def test_output_file(probe_binary: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    out = subprocess.run([str(probe_binary), "-o", str(target)], capture_output=True,
                         check=True, timeout=30)
    assert out.stdout == b""
    report = parse_probe(target.read_text())
    assert report.argv[1:] == ("-o", str(target))
    # the report's own fd is not among the fds it lists
    assert str(target) not in report.fd_targets().values()


def test_bad_usage(probe_binary: Path) -> None:
    out = subprocess.run([str(probe_binary), "extra"], capture_output=True, timeout=30)
    assert out.returncode == 2
    assert b"usage" in out.stderr


def test_build_is_cached(probe_binary: Path) -> None:
    before = probe_binary.stat().st_mtime_ns
    assert build_probe(probe_binary.parent) == probe_binary
    assert probe_binary.stat().st_mtime_ns == before


def test_parse_rejects_other_output() -> None:
    with pytest.raises(ProbeError, match="not JSON"):
        parse_probe("exec /probe: no such file or directory\n")
    with pytest.raises(ProbeError, match="not an object"):
        parse_probe("[1, 2]")
    with pytest.raises(ProbeError, match="lacks"):
        parse_probe('{"pid": 1}')


def test_cap_names_and_mask() -> None:
    assert cap_names(0) == frozenset()
    assert cap_names(int("000001fffeffffff", 16)) >= {"CAP_CHOWN", "CAP_SYS_ADMIN"}
    assert "CAP_SYS_RESOURCE" not in cap_names(int("000001fffeffffff", 16))
    assert cap_names(1 << 63) == {"CAP_63"}
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    assert cap_names(cap_mask(caps)) == set(caps)
    assert cap_mask(caps) == 0x20000420
