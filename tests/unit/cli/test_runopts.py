"""``run``/``create``'s flags to the create request: the value grammars and the
client-side options, as docker's CLI converts them (the e2e test
``test_estiba_create`` holds the same conversions against the real docker CLI's
requests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from estiba.cli.docker import runnetwork as rn
from estiba.cli.docker import runvalues as rv
from estiba.cli.docker.create import platform_query, warnings_before
from estiba.cli.docker.flags import ArgumentsError, UsageError, given
from estiba.cli.docker.gonumbers import go_int, go_uint
from estiba.cli.docker.runopts import CREATE_FLAGS, RUN_FLAGS, ConfigError, parse_run
from estiba.errors import InvalidArgument
from estiba.units import ram_in_bytes


def run(*argv: str, environ: dict[str, str] | None = None):  # noqa: ANN201
    return parse_run(list(argv), run=True, environ=environ or {})


def create(*argv: str):  # noqa: ANN201
    return parse_run(list(argv), run=False, environ={})


def test_the_image_ends_the_flags() -> None:
    opts = run("--rm", "busybox", "ls", "-l", "--rm", "--", "-d")
    assert opts.image == "busybox"
    assert opts.config["Cmd"] == ["ls", "-l", "--rm", "--", "-d"]
    assert opts.auto_remove and not opts.detach
    assert create("--", "busybox").config["Cmd"] is None


def test_defaults_as_docker_sends_them() -> None:
    opts = create("busybox")
    c, h = opts.config, opts.host_config
    assert (c["AttachStdin"], c["AttachStdout"], c["AttachStderr"]) == (False, True, True)
    assert c["Env"] is None and c["Entrypoint"] is None and c["Labels"] == {}
    assert "ExposedPorts" not in c and "Healthcheck" not in c and "StopTimeout" not in c
    assert h["NetworkMode"] == "default" and h["RestartPolicy"] == {
        "Name": "no", "MaximumRetryCount": 0}
    assert h["MemorySwappiness"] == -1 and h["Dns"] == [] and h["CapAdd"] is None
    assert "Init" not in h and "Mounts" not in h
    assert list(opts.networking_config["EndpointsConfig"]) == ["default"]  # type: ignore[index]
    assert (opts.pull, opts.sig_proxy, opts.name, opts.platform) == ("missing", True, "", "")
    body = opts.body()
    assert body["HostConfig"] is h and body["Image"] == "busybox"


def test_run_only_flags() -> None:
    for flag in ("-d", "--detach-keys=x", "--sig-proxy=false", "--explain"):
        with pytest.raises(UsageError):
            create(flag, "busybox")
    assert {f.name for f in RUN_FLAGS} - {f.name for f in CREATE_FLAGS} == {
        "detach", "detach-keys", "sig-proxy", "explain"}
    opts = run("-d", "--detach-keys", "ctrl-x", "--sig-proxy=false", "--explain", "-i",
               "busybox")
    assert opts.detach and opts.detach_keys == "ctrl-x" and opts.explain
    assert not opts.sig_proxy
    # detached: nothing attached, stdin kept open
    assert opts.config["OpenStdin"] and not opts.config["AttachStdin"]
    assert not opts.config["StdinOnce"]
    assert run("--sig-proxy", "busybox").sig_proxy


def test_attach_and_stdin() -> None:
    opts = run("-a", "STDIN", "-a", "stderr", "-i", "busybox")
    assert opts.attach == ["stdin", "stderr"]
    c = opts.config
    assert (c["AttachStdin"], c["AttachStdout"], c["AttachStderr"]) == (True, False, True)
    assert c["StdinOnce"] and c["OpenStdin"]
    with pytest.raises(InvalidArgument, match="cannot specify both --attach and --detach"):
        run("-d", "-a", "stdout", "busybox")
    with pytest.raises(UsageError, match='"-a, --attach" flag: valid streams are STDIN'):
        run("-a", "x", "busybox")


def test_given_tells_absent_from_false() -> None:
    assert given(["--init=false", "busybox"], RUN_FLAGS, "init")
    assert not given(["busybox", "--init"], RUN_FLAGS, "init")
    assert not given(["--name", "--init", "busybox"], RUN_FLAGS, "init")
    assert not given(["-e", "--init", "busybox"], RUN_FLAGS, "init")
    assert given(["-it", "busybox"], RUN_FLAGS, "tty")
    assert create("--init=false", "busybox").host_config["Init"] is False


@pytest.mark.parametrize(("text", "value"), [
    ("512m", 512 << 20), ("1.5g", 3 << 29), ("10b", 10), ("2GiB", 2 << 30),
    ("1KB", 1024), ("64 M", 64 << 20), ("100", 100), ("1.5k", 1536),
])
def test_sizes(text: str, value: int) -> None:
    assert ram_in_bytes(text) == value


@pytest.mark.parametrize(("text", "message"), [
    ("x", "invalid size: 'x'"), ("1z", "invalid suffix: 'z'"),
    ("1kbb", "invalid suffix: 'kbb'"), ("-1", "invalid size: '-1'"),
    ("1.5.5", 'strconv.ParseFloat: parsing "1.5.5": invalid syntax'),
])
def test_bad_sizes(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        ram_in_bytes(text)
    assert str(raised.value) == message


def test_numbers_as_go_reads_them() -> None:
    assert go_int("0x10") == 16 and go_int("010") == 8 and go_int("-5") == -5
    assert go_uint("1_000") == 1000
    with pytest.raises(ValueError, match='ParseUint: parsing "70000": value out of range'):
        go_uint("70000", 16)
    for text in ("1.5", " 5", "5\n", "١"):  # Python's int() takes the last three
        with pytest.raises(ValueError, match=f'ParseInt: parsing "{text}": invalid syntax'):
            go_int(text)
    assert rv.nano_cpus("1.5") == 1_500_000_000 and rv.nano_cpus("3/2") == 1_500_000_000
    with pytest.raises(ValueError, match="too precise"):
        rv.nano_cpus("0.0000000001")


def test_flag_errors_name_the_flag() -> None:
    with pytest.raises(UsageError) as raised:
        create("-m", "x", "busybox")
    assert str(raised.value) == ('invalid argument "x" for "-m, --memory" flag: '
                                 "invalid size: 'x'")
    assert raised.value.status == 125
    with pytest.raises(UsageError, match='for "--health-interval" flag: time: missing unit'):
        create("--health-interval", "5", "busybox")
    with pytest.raises(ArgumentsError):
        create("--name", "x")
    with pytest.raises(UsageError) as raised:  # a flag's value is checked first
        create("--cpus", "x")
    assert not isinstance(raised.value, ArgumentsError)


def test_limits_and_durations() -> None:
    h = create("-m", "1g", "--memory-swap", "-1", "--cpus", "0.5", "-c", "512",
               "--pids-limit", "-1", "--shm-size", "64m", "--blkio-weight", "300",
               "busybox").host_config
    assert (h["Memory"], h["MemorySwap"], h["NanoCpus"], h["CpuShares"]) == (
        1 << 30, -1, 500_000_000, 512)
    assert (h["PidsLimit"], h["ShmSize"], h["BlkioWeight"]) == (-1, 64 << 20, 300)
    c = create("--health-cmd", "true", "--health-interval", "1m30s", "--health-retries",
               "3", "--stop-timeout", "0", "busybox").config
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90_000_000_000,
                                "Retries": 3}
    assert c["StopTimeout"] == 0
    assert create("--no-healthcheck", "busybox").config["Healthcheck"] == {"Test": ["NONE"]}
    with pytest.raises(ConfigError, match="conflicts with --health-"):
        create("--no-healthcheck", "--health-retries", "1", "busybox")


def test_ports() -> None:
    exposed, bindings = rn.port_specs(["80", "127.0.0.1:8081:81/UDP", "[::1]:9001:91",
                                       "7000-7001:70-71", "6000-6005:60",
                                       "target=5,published=55,protocol=sctp"])
    assert bindings["80/tcp"] == [{"HostIp": "", "HostPort": ""}]
    assert bindings["81/udp"] == [{"HostIp": "127.0.0.1", "HostPort": "8081"}]
    assert bindings["91/tcp"] == [{"HostIp": "::1", "HostPort": "9001"}]
    assert bindings["71/tcp"] == [{"HostIp": "", "HostPort": "7001"}]
    assert bindings["60/tcp"] == [{"HostIp": "", "HostPort": "6000-6005"}]
    assert bindings["5/sctp"] == [{"HostIp": "", "HostPort": "55"}]
    assert set(exposed) == set(bindings)
    assert rn.expose("9000-9001/udp") == ["9000/udp", "9001/udp"]
    for spec, message in (("1:2/xyz", "invalid proto: xyz"),
                          ("1.2.3:80:80", "invalid IP address: 1.2.3"),
                          ("8000-8001:90-92", "invalid ranges specified for container "
                           "and host Ports: 90-92 and 8000-8001"),
                          ("x", "invalid containerPort: x")):
        with pytest.raises(ConfigError) as raised:
            rn.port_specs([spec])
        assert str(raised.value) == message


def test_volumes_binds_and_mounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert rv.volume_bind("/data") is None and rv.volume_bind("ab") is None
    assert rv.volume_bind("/a:/b:ro") == "/a:/b:ro"
    assert rv.volume_bind("a::b") == "a::b"  # a lone letter and a colon: a drive
    monkeypatch.chdir(tmp_path)
    assert rv.volume_bind("./x:/x") == f"{tmp_path}/x:/x"
    with pytest.raises(ConfigError, match="too many colons"):
        rv.volume_bind("/a:/b:ro:x")
    with pytest.raises(ConfigError, match="empty section between colons"):
        rv.volume_bind("/a::ro")
    assert rv.mount("type=bind,src=/a,dst=/b,readonly,bind-propagation=RSlave") == {
        "Type": "bind", "Source": "/a", "Target": "/b", "ReadOnly": True,
        "BindOptions": {"Propagation": "rslave"}}
    assert rv.mount("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770") == {
        "Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1 << 20,
                                                          "Mode": 0o1770}}
    assert rv.mount("target=/v,volume-nocopy") == {
        "Type": "volume", "Target": "/v", "VolumeOptions": {"NoCopy": True,
                                                            "DriverConfig": {}}}
    with pytest.raises(ValueError, match="cannot mix 'bind-\\*' options with mount type"):
        rv.mount("type=tmpfs,target=/x,bind-propagation=rshared")
    with pytest.raises(ValueError, match="target is required"):
        rv.mount("type=bind")
    h = create("-v", "/data", "-v", "/h:/c", "--tmpfs", "/run:size=1m", "busybox")
    assert h.config["Volumes"] == {"/data": {}}
    assert h.host_config["Binds"] == ["/h:/c"]
    assert h.host_config["Tmpfs"] == {"/run": "size=1m"}


def test_devices_ulimits_and_the_rest() -> None:
    assert rv.device("/dev/full:r") == {"PathOnHost": "/dev/full",
                                        "PathInContainer": "/dev/full",
                                        "CgroupPermissions": "r"}
    assert rv.device("/dev/a:/dev/b") == {"PathOnHost": "/dev/a", "PathInContainer": "/dev/b",
                                          "CgroupPermissions": "rwm"}
    with pytest.raises(ConfigError, match="relative is not an absolute path"):
        rv.device("/dev/null:relative")
    assert rv.sorted_ulimits([rv.ulimit("nofile=1:2"), rv.ulimit("core=-1"),
                              rv.ulimit("nofile=3")]) == [
        {"Name": "core", "Hard": -1, "Soft": -1}, {"Name": "nofile", "Hard": 3, "Soft": 3}]
    with pytest.raises(ValueError, match="soft limit must be less than or equal"):
        rv.ulimit("nofile=20:10")
    assert rv.restart_policy("on-failure:3") == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert rv.extra_host("h=[::1]") == "h:::1"
    assert rv.dns_search("example.com.") == "example.com"
    assert rv.capabilities(["net_admin", "ALL"], []) == (["ALL", "CAP_NET_ADMIN"], None)
    assert rv.security_opts(["systempaths=unconfined"]) == ([], [], [])
    with pytest.raises(ConfigError, match="conflicting options: cannot specify both "
                                          "--restart and --rm"):
        create("--restart", "always", "--rm", "busybox")


def test_networks() -> None:
    opts = create("--network", "net1", "--network-alias", "web", "--ip", "10.0.0.5",
                  "--link", "db:d", "--mac-address", "92:d0:c6:0a:29:33", "busybox")
    ep = opts.networking_config["EndpointsConfig"]["net1"]  # type: ignore[index]
    assert ep["Aliases"] == ["web"] and ep["Links"] == ["db:d"]
    assert ep["IPAMConfig"] == {"IPv4Address": "10.0.0.5"}
    assert ep["MacAddress"] == "92:d0:c6:0a:29:33"
    assert opts.host_config["NetworkMode"] == "net1" and "MacAddress" not in opts.config
    assert create("--network", "host", "busybox").networking_config == {
        "EndpointsConfig": {}}
    with pytest.raises(ConfigError, match="only supported for user-defined networks"):
        create("--network-alias", "x", "busybox")
    with pytest.raises(ConfigError, match="cannot attach both user-defined and"):
        create("--network", "host", "--network", "net1", "busybox")


def test_hidden_other_names_keep_their_place() -> None:
    opts = create("--dns-opt", "a", "--dns-option", "b", "--dns-opt=c", "--net", "n1",
                  "--network", "n2", "--net-alias", "x", "busybox")
    assert opts.host_config["DnsOptions"] == ["a", "b", "c"]
    assert opts.host_config["NetworkMode"] == "n1"
    assert list(opts.networking_config["EndpointsConfig"]) == ["n1", "n2"]  # type: ignore[index]
    assert create("-e", "--net", "busybox").config["Env"] == ["--net"]


def test_env_and_label_files(tmp_path: Path) -> None:
    env = tmp_path / "env"
    env.write_text("\ufeff# comment\nA=1\n  B= spaced \nFROM_ENV\nUNSET\n")
    labels = tmp_path / "labels"
    labels.write_text("x=1\ny\n")
    opts = run("--env-file", str(env), "-e", "C", "-e", "A=2", "-e", "A=3",
               "--label-file", str(labels), "-l", "y=2", "busybox",
               environ={"FROM_ENV": "f", "C": "c"})
    assert opts.config["Env"] == ["A=1", "B= spaced ", "FROM_ENV=f", "C=c", "A=3"]
    assert opts.config["Labels"] == {"x": "1", "y": "2"}
    with pytest.raises(ConfigError) as raised:
        run("--env-file", str(tmp_path / "none"), "busybox")
    assert str(raised.value) == f"open {tmp_path}/none: no such file or directory"


def test_refused_and_windows_only() -> None:
    with pytest.raises(ConfigError, match="--gpus is not supported"):
        create("--gpus", "all", "busybox")
    with pytest.raises(InvalidArgument) as raised:
        create("--cpu-count", "1", "--io-maxiops", "2", "busybox")
    assert str(raised.value).splitlines() == [
        '"--cpu-count" is only supported on a Docker daemon running on windows, but the '
        "Docker daemon is running on linux",
        '"--io-maxiops" is only supported on a Docker daemon running on windows, but the '
        "Docker daemon is running on linux"]


def test_config_errors_read_as_dockers() -> None:
    with pytest.raises(ConfigError) as raised:
        create("--pull", "sometimes", "busybox")
    assert raised.value.text("create") == (
        "estiba: invalid pull option: 'sometimes': must be one of \"always\", \"missing\" "
        "or \"never\"\n\nRun 'estiba create --help' for more information\n")


def test_platforms_and_warnings() -> None:
    assert platform_query("Linux/X86_64") == "linux/amd64"
    assert platform_query("i386") == "linux/386"
    assert platform_query("darwin") == "darwin/amd64"
    assert platform_query("nosuch/arch/V2") == "nosuch/arch/v2"
    with pytest.raises(InvalidArgument, match="unknown operating system or architecture"):
        platform_query("nosuch")
    assert warnings_before({"Dns": ["8.8.8.8", "127.0.0.53", "::1"]}) == [
        "WARNING: Localhost DNS (127.0.0.53) may fail in containers."]
    assert warnings_before({"Dns": []}) == []
