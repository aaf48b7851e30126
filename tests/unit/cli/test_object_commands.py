"""Pure parts of the ``network``, ``volume`` and ``system`` commands: the request bodies
docker sends, the rows, the orders and the text docker prints, and the commands against
a recording client."""

from __future__ import annotations

import io

import pytest

from estiba.cli.docker import inspect, networks, system, volumes
from estiba.cli.docker.context import Context, render_rows
from estiba.cli.docker.flags import given, parse
from estiba.cli.docker.output import natural_sorted
from estiba.cli.docker.pruning import confirm, deleted, image_lines, reclaimed
from estiba.client.docker import DockerError
from estiba.errors import InvalidArgument

NET = {
    "Name": "front", "Id": "bcfc05250fc8930261f132292cd30b92a8a4e4fb18b2813c89fb56d70eb56786",
    "Created": "2026-12-04T22:04:01.801580350Z", "Scope": "local", "Driver": "bridge",
    "EnableIPv4": True, "EnableIPv6": False, "Internal": True, "Labels": {"b": "2", "a": "1"},
}
VOL = {"CreatedAt": "2026-12-04T22:04:19.784301192Z", "Driver": "local", "Labels": None,
       "Mountpoint": "/var/lib/estiba/volumes/data/_data", "Name": "data",
       "Options": None, "Scope": "local"}


# --- orders and prompts ----------------------------------------------------------------

@pytest.mark.parametrize(("names", "ordered"), [
    (["net10", "net9", "net1"], ["net1", "net9", "net10"]),
    (["b", "a", "A"], ["A", "a", "b"]),
    (["x01", "x1", "x001"], ["x1", "x01", "x001"]),
    (["a", "1", "a1", "a"], ["1", "a", "a", "a1"]),
    # digits before any other byte, even those below "0" ("-", "."); then bytes
    (["a10", "a9", "a09b", "[::]:1", "0.0.0.0:2", "-x"],
     ["0.0.0.0:2", "-x", "[::]:1", "a9", "a09b", "a10"]),
    (["80/tcp -> 1.2.3.4:9", "8/tcp -> x", "80/tcp -> 1.2.3.4:10"],
     ["8/tcp -> x", "80/tcp -> 1.2.3.4:9", "80/tcp -> 1.2.3.4:10"]),
])
def test_names_in_docker_natural_order(names: list[str], ordered: list[str]) -> None:
    assert natural_sorted(names, lambda n: n) == ordered


@pytest.mark.parametrize(("typed", "yes"), [("y\n", True), (" Y \n", True), ("yes\n", False),
                                            ("n\n", False), ("", False)])
def test_confirm_takes_only_y(typed: str, yes: bool) -> None:
    out = io.StringIO()
    assert confirm(Context("unix:///none", out, io.StringIO()), "Sure?",
                   io.StringIO(typed)) is yes
    assert out.getvalue() == "Sure? [y/N] "


# --- networks ------------------------------------------------------------------------

def create_opts(*argv: str) -> dict[str, object]:
    return parse(list(argv), networks.CREATE_FLAGS)[0]


def test_create_body_as_docker_sends_it() -> None:
    argv = ["--internal", "--label", "a=b", "-o", "com.docker.network.bridge.name=br9",
            "--subnet", "10.213.2.0/24", "--gateway", "10.213.2.1", "--ip-range",
            "10.213.2.128/25", "--aux-address", "x=10.213.2.5"]
    body = networks.create_body("n", create_opts(*argv))
    assert body == {
        "Name": "n", "Driver": "bridge", "Scope": "", "Internal": True, "Attachable": False,
        "Ingress": False, "ConfigOnly": False,
        "IPAM": {"Driver": "default", "Options": {}, "Config": [{
            "Subnet": "10.213.2.0/24", "Gateway": "10.213.2.1", "IPRange": "10.213.2.128/25",
            "AuxiliaryAddresses": {"x": "10.213.2.5"}}]},
        "Options": {"com.docker.network.bridge.name": "br9"}, "Labels": {"a": "b"},
    }


def test_create_sends_ip_versions_only_when_given() -> None:
    argv = ["--ipv6", "--ipv4=false", "--config-from", "base"]
    body = networks.create_body("n", create_opts(*argv), tuple(
        f for f in ("ipv4", "ipv6") if given(argv, networks.CREATE_FLAGS, f, interspersed=True)))
    assert (body["EnableIPv4"], body["EnableIPv6"]) == (False, True)
    assert body["ConfigFrom"] == {"Network": "base"}
    assert "EnableIPv6" not in networks.create_body("n", create_opts())
    assert not given(["--", "--ipv6"], networks.CREATE_FLAGS, "ipv6", interspersed=True)
    assert given(["n", "--ipv6"], networks.CREATE_FLAGS, "ipv6", interspersed=True)
    assert not given(["--label", "--ipv6", "n"], networks.CREATE_FLAGS, "ipv6",
                     interspersed=True)  # a flag's value is no flag


@pytest.mark.parametrize(("argv", "message"), [
    (["--gateway", "10.0.0.1"], "every ip-range or gateway must have a corresponding subnet"),
    (["--subnet", "10.213.9.0/24", "--subnet", "10.213.9.0/25"],
     "multiple overlapping subnet configuration is not supported"),
    (["--subnet", "10.213.9.0/24", "--gateway", "10.213.8.1"],
     "no matching subnet for gateway 10.213.8.1"),
    (["--subnet", "10.213.9.0/24", "--gateway", "bad"], "no matching subnet for gateway bad"),
    (["--subnet", "10.213.9.0/24", "--aux-address", "bad"],
     "no matching subnet for aux-address "),
    (["--subnet", "10.213.9.0/24", "--subnet", "10.213.10.0/24", "--ip-range",
      "10.213.9.0/26", "--ip-range", "10.213.9.64/26"],
     "cannot configure multiple ranges (10.213.9.64/26, 10.213.9.0/26) on the same subnet "
     "(10.213.9.0/24)"),
])
def test_ipam_errors_in_docker_words(argv: list[str], message: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        networks.create_body("n", create_opts(*argv))
    assert str(err.value) == message


def test_strings_flags_split_at_commas() -> None:
    body = networks.create_body("n", create_opts("--subnet", "10.213.1.0/24,10.213.2.0/24"))
    assert [c["Subnet"] for c in body["IPAM"]["Config"]] == [  # type: ignore[index]
        "10.213.1.0/24", "10.213.2.0/24"]


def test_each_address_goes_to_its_subnet() -> None:
    configs = networks.ipam_configs(["10.213.1.0/24", "10.213.2.0/24"], [],
                                    ["10.213.2.1", "10.213.1.1"], {})
    assert configs == [{"Subnet": "10.213.1.0/24", "Gateway": "10.213.1.1"},
                       {"Subnet": "10.213.2.0/24", "Gateway": "10.213.2.1"}]


def test_endpoint_config_of_connect() -> None:
    opts = parse(["--alias", "a1,a2", "--ip", "10.213.2.140",
                  "--link-local-ip", "169.254.1.1", "--driver-opt", "k = v"],
                 networks.CONNECT_FLAGS)[0]
    assert networks.endpoint_config(opts) == {
        "IPAMConfig": {"IPv4Address": "10.213.2.140", "LinkLocalIPs": ["169.254.1.1"]},
        "Links": [], "Aliases": ["a1", "a2"], "DriverOpts": {"k": "v"}}
    bad = parse(["--driver-opt", "novalue"], networks.CONNECT_FLAGS)[0]
    with pytest.raises(InvalidArgument, match="invalid key/value pair format"):
        networks.endpoint_config(bad)


def test_go_time_trims_the_fraction() -> None:
    assert networks.go_time("2026-12-04T22:04:01.801580350Z") \
        == "2026-12-04 22:04:01.80158035 +0000 UTC"
    assert networks.go_time("2026-12-04T22:04:01Z") == "2026-12-04 22:04:01 +0000 UTC"


def test_network_rows() -> None:
    rows = [networks.NetworkRow(NET)]
    assert render_rows(networks.ls_format("", False), rows, networks.HEADERS) == (
        "NETWORK ID     NAME      DRIVER    SCOPE\n"
        "bcfc05250fc8   front     bridge    local\n")
    assert render_rows(networks.ls_format("", True), rows, networks.HEADERS) \
        == "bcfc05250fc8\n"
    assert render_rows("json", rows, networks.HEADERS) == (
        '{"CreatedAt":"2026-12-04 22:04:01.80158035 +0000 UTC","Driver":"bridge",'
        '"ID":"bcfc05250fc8","IPv4":"true","IPv6":"false","Internal":"true",'
        '"Labels":"a=1,b=2","Name":"front","Scope":"local"}\n')
    whole = networks.NetworkRow(NET, trunc=False).ID
    assert len(whole) == 64 and whole.endswith("eb56786")
    assert rows[0].Label("b") == "2"


def test_network_prune_report() -> None:
    assert networks.prune_report({"NetworksDeleted": ["a", "b"]}) \
        == "Deleted Networks:\na\nb\n\n"
    assert networks.prune_report({"NetworksDeleted": None}) == ""


# --- volumes -------------------------------------------------------------------------

def test_volume_rows_and_formats() -> None:
    rows = [volumes.VolumeRow(VOL)]
    assert render_rows(volumes.ls_format("", False), rows, volumes.HEADERS) \
        == "DRIVER    VOLUME NAME\nlocal     data\n"
    assert render_rows(volumes.ls_format("", True), rows, volumes.HEADERS) == "data\n"
    assert render_rows("json", rows, volumes.HEADERS) == (
        '{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"","Links":"N/A",'
        '"Mountpoint":"/var/lib/estiba/volumes/data/_data","Name":"data","Scope":"local",'
        '"Size":"N/A","Status":"N/A"}\n')
    used = volumes.VolumeRow({**VOL, "UsageData": {"RefCount": 2, "Size": 5000}})
    assert (used.Links, used.Size) == ("2", "5kB")


def test_volume_create_body() -> None:
    opts = parse(["-o", "type=tmpfs", "--label", "a=b"], volumes.CREATE_FLAGS)[0]
    assert volumes.create_body(opts, ["v"]) == {
        "Driver": "local", "DriverOpts": {"type": "tmpfs"}, "Name": "v", "Labels": {"a": "b"}}
    named = parse(["--name", "x"], volumes.CREATE_FLAGS)[0]
    assert volumes.create_body(named, [])["Name"] == "x"
    with pytest.raises(InvalidArgument, match="through both --name and as a positional"):
        volumes.create_body(named, ["y"])


def test_volume_prune_report() -> None:
    assert volumes.prune_report({"VolumesDeleted": ["v"], "SpaceReclaimed": 5000}) \
        == ("Deleted Volumes:\nv\n\n", 5000)
    # docker counts the space only when a volume went
    assert volumes.prune_report({"VolumesDeleted": [], "SpaceReclaimed": 7}) == ("", 0)


# --- inspect -------------------------------------------------------------------------

def run_inspect(fmt: str, names: list[str]) -> tuple[int, str, str]:
    def get(name: str) -> object:
        if name == VOL["Name"]:
            return VOL
        raise DockerError(404, f"get {name}: no such volume")

    out, err = io.StringIO(), io.StringIO()
    status = inspect.inspect_each(Context("unix:///none", out, err), names, get, fmt)
    return status, out.getvalue(), err.getvalue()


def test_inspect_each_prints_as_docker() -> None:
    status, out, err = run_inspect("", ["data", "gone"])
    assert status == 1 and err == "Error response from daemon: get gone: no such volume\n"
    assert out.startswith('[\n    {\n        "CreatedAt": "2026-12-04T22:04:19.784301192Z",')
    assert run_inspect("", ["gone"])[1] == "[]\n"
    assert run_inspect("json", ["data"])[1].startswith('[{"CreatedAt":"2026-12-04T')
    assert run_inspect("{{.Name}}", ["data", "data"]) == (0, "data\ndata\n", "")
    assert run_inspect("{{.Name}}", ["gone"])[1] == "\n"
    status, out, err = run_inspect("{{.Name", ["data"])
    assert (status, out) == (64, "") and err.startswith("template parsing error: template:")


# --- info ----------------------------------------------------------------------------

INFO = {
    "ID": "", "Containers": 2, "ContainersRunning": 1, "ContainersPaused": 0,
    "ContainersStopped": 1, "Images": 1, "Driver": "overlayfs", "DriverStatus": [],
    "Plugins": {"Volume": [], "Network": ["bridge", "host"], "Authorization": None,
                "Log": ["json-file"]},
    "Debug": False, "LoggingDriver": "json-file", "CgroupDriver": "cgroupfs",
    "CgroupVersion": "2", "KernelVersion": "6.1.0", "OperatingSystem": "Debian GNU/Linux 12",
    "OSType": "linux", "Architecture": "x86_64", "NCPU": 2, "MemTotal": 25276071936,
    "DockerRootDir": "/var/lib/estiba", "HttpProxy": "", "Name": "vm", "Labels": [],
    "ExperimentalBuild": False, "ServerVersion": "0.1.0",
    "Runtimes": {"runc": {}, "estiba": {}}, "DefaultRuntime": "estiba",
    "Swarm": {"LocalNodeState": "inactive"}, "LiveRestoreEnabled": True,
    "InitBinary": "docker-init", "SecurityOptions": ["name=seccomp,profile=builtin",
                                                     "name=cgroupns"],
    "RegistryConfig": {"IndexConfigs": {}, "InsecureRegistryCIDRs": ["127.0.0.0/8"]},
}


def test_info_text_as_docker_lays_it_out() -> None:
    client = {"Platform": {"Name": ""}, "Version": "28.2.2", "Context": "default"}
    assert system.info_text(client, INFO) == """\
Client:
 Version:    28.2.2
 Context:    default
 Debug Mode: false

Server:
 Containers: 2
  Running: 1
  Paused: 0
  Stopped: 1
 Images: 1
 Server Version: 0.1.0
 Storage Driver: overlayfs
 Logging Driver: json-file
 Cgroup Driver: cgroupfs
 Cgroup Version: 2
 Plugins:
  Volume: \n  Network: bridge host
  Log: json-file
 Swarm: inactive
 Runtimes: estiba runc
 Default Runtime: estiba
 Init Binary: docker-init
 containerd version: \n runc version: \n init version: \n Security Options:
  seccomp
   Profile: builtin
  cgroupns
 Kernel Version: 6.1.0
 Operating System: Debian GNU/Linux 12
 OSType: linux
 Architecture: x86_64
 CPUs: 2
 Total Memory: 23.54GiB
 Name: vm
 Docker Root Dir: /var/lib/estiba
 Debug Mode: false
 Experimental: false
 Insecure Registries:
  127.0.0.0/8
 Live Restore Enabled: true

"""
    assert system.info_text({"Context": "default"}, None).endswith("\nServer:\n")


def test_info_json_has_docker_fields_in_order() -> None:
    data = system.info_data({"Version": "1", "APIVersion": "1.47", "Context": "default"},
                            {"Name": "vm", "KernelMemoryTCP": False, "ID": "x",
                             "Swarm": {"LocalNodeState": "inactive"}}, [])
    from estiba.cli.gotemplate.functions import _json

    text = _json(data)
    assert text.startswith('{"ID":"x","Containers":0,')
    assert "KernelMemoryTCP" not in text and '"ProductLicense"' not in text
    assert '"Swarm":{"NodeID":"","NodeAddr":"","LocalNodeState":"inactive",' \
           '"ControlAvailable":false,"Error":"","RemoteManagers":null}' in text
    assert text.endswith('"Warnings":null,"ClientInfo":{"Debug":false,"Version":"1",'
                         '"Context":"default","Plugins":[],"Warnings":null}}')


# --- events --------------------------------------------------------------------------

EVENT = {"status": "create", "id": "c0ffee", "from": "busybox", "Type": "container",
         "Action": "create", "Actor": {"ID": "c0ffee", "Attributes": {
             "name": "x", "image": "busybox"}},
         "scope": "local", "time": 1704164645, "timeNano": 1704164645123456789}


def test_event_line() -> None:
    assert system.event_line(EVENT) == ("2024-01-02T03:04:05.123456789Z container create "
                                        "c0ffee (image=busybox, name=x)\n")
    bare = {"Type": "network", "Action": "prune", "Actor": {"ID": ""}, "time": 1704164645}
    assert system.event_line(bare, 3600) == "2024-01-02T04:04:05.000000000+01:00 network prune \n"


def test_event_json_leaves_out_empty_tags() -> None:
    assert system.Message(EVENT).to_json() == (
        '{"status":"create","id":"c0ffee","from":"busybox","Type":"container",'
        '"Action":"create","Actor":{"ID":"c0ffee","Attributes":{"image":"busybox",'
        '"name":"x"}},"scope":"local","time":1704164645,"timeNano":1704164645123456789}')
    network = {**EVENT, "status": "", "id": "", "from": ""}
    assert system.Message(network).to_json().startswith('{"Type":"container",')


# --- df and prune ----------------------------------------------------------------------

DF = {
    "LayersSize": 1036149,
    "Images": [{"Id": "sha256:bffd32c92426c10a37d1b60e71458d45a33f7a743c7d68a0735efb2b947650aa",
                "RepoTags": ["busybox:latest"], "Created": 0, "Size": 1036149,
                "SharedSize": 0, "Containers": 2}],
    "Containers": [
        {"Id": "0f64c106f664", "Names": ["/done"], "Image": "busybox", "Command": "true",
         "Created": 0, "State": "exited", "Status": "Exited (0)", "SizeRw": 16384},
        {"Id": "b0b0a0cabdd4", "Names": ["/up"], "Image": "busybox", "Command": "sleep 9",
         "Created": 0, "State": "running", "Status": "Up", "SizeRw": 12288}],
    "Volumes": [{"Name": "v1", "Driver": "local", "UsageData": {"Size": 0, "RefCount": 1}},
                {"Name": "v9", "Driver": "local", "UsageData": {"Size": 5000, "RefCount": 0}}],
    "BuildCache": [],
}


def test_df_table_counts_as_docker() -> None:
    text = render_rows(system._DF_TABLE, system.df_rows(DF), system.DF_HEADERS)
    assert text == (
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n"
        "Images          1         1         1.036MB   0B (0%)\n"
        "Containers      2         1         28.67kB   16.38kB (57%)\n"
        "Local Volumes   2         1         5kB       5kB (100%)\n"
        "Build Cache     0         0         0B        0B\n")


def test_df_verbose_sections() -> None:
    text = system.df_verbose_table(DF, 3600.0)
    assert text.startswith("Images space usage:\n\nREPOSITORY   TAG       IMAGE ID       "
                           "CREATED")
    assert "\nbusybox      latest    bffd32c92426   About an hour ago   1.04MB    0B" in text
    assert "\nContainers space usage:\n\nCONTAINER ID   IMAGE     COMMAND" in text
    assert "\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n" in text
    assert "v9            0         5kB\n" in text
    assert text.endswith("\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      "
                         "CREATED   LAST USED   USAGE     SHARED\n")


def test_prune_warning_and_sections() -> None:
    assert system.prune_warning(False, False, {}) == (
        "WARNING! This will remove:\n  - all stopped containers\n"
        "  - all networks not used by at least one container\n  - all dangling images\n"
        "  - unused build cache\n\nAre you sure you want to continue?")
    text = system.prune_warning(True, True, {"until": ["1h"], "label": ["b", "a"],
                                             "other": ["x"]})
    assert "  - all anonymous volumes not used by at least one container\n" in text
    assert "  - all images without at least one container associated to them\n" in text
    assert text.endswith("  - all build cache\n\n  Items to be pruned will be filtered "
                         "with:\n  - label=a\n  - label=b\n  - until=1h\n\n"
                         "Are you sure you want to continue?")
    assert deleted("Deleted Containers:", ["c1"]) == "Deleted Containers:\nc1\n\n"
    assert deleted("Deleted Images:", []) == ""
    assert reclaimed(32768) == "Total reclaimed space: 32.77kB\n"
    assert image_lines([{"Untagged": "a:1"}, {"Deleted": "sha256:ab"}]) \
        == ["untagged: a:1", "deleted: sha256:ab"]
