"""The executors of the init's plan, run against the recording kernel: which calls they
make, in which order, without root and without touching the host."""

from __future__ import annotations

import inspect
import os
import signal

import pytest

from estiba.kernel import consts as k
from estiba.kernel.fake import Call, Executed, RecordingKernel
from estiba.kernel.linux import Linux
from estiba.oci.runtime_config import parse_config, parse_process
from estiba.runtime.init import prepare_rootfs
from estiba.runtime.plan import plan_init, plan_process
from estiba.runtime.process import finish_and_exec
from estiba.runtime.spec import default_config


def test_the_fake_has_every_operation_of_the_real_kernel():
    for name, method in inspect.getmembers(Linux, inspect.isfunction):
        if name.startswith("_"):
            continue
        fake = getattr(RecordingKernel, name, None)
        assert fake is not None, f"RecordingKernel lacks {name}"
        assert list(inspect.signature(fake).parameters) == \
            list(inspect.signature(method).parameters), name


@pytest.fixture
def process_state():
    """finish_and_exec changes the calling process's cwd, umask and two signal
    dispositions before it execs; put them back."""
    cwd = os.getcwd()
    umask = os.umask(0o022)
    os.umask(umask)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGPIPE, signal.SIGXFSZ)}
    yield cwd
    os.chdir(cwd)
    os.umask(umask)
    for s, handler in handlers.items():
        signal.signal(s, handler)


def process_plan(no_new_privs: bool, seccomp: object = None, **user):
    process = parse_process({
        "args": ["sh", "-c", "true"], "cwd": os.getcwd(), "env": ["PATH=/bin:/usr/bin"],
        "user": {"uid": 1000, "gid": 1000, "umask": 0o027, **user},
        "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
                         "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"],
                         "ambient": ["CAP_KILL"]},
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
        "noNewPrivileges": no_new_privs,
    })
    return plan_process(process, seccomp, last_cap=40)


def run_process(plan, seccomp=None, wait_start=None, kernel=None):
    kernel = kernel or RecordingKernel()
    with pytest.raises(Executed) as executed:
        finish_and_exec(kernel, plan, keep_fds=4, seccomp=seccomp, wait_start=wait_start)
    return kernel, executed.value


def test_credentials_change_in_the_kernels_order(process_state):
    kernel, executed = run_process(process_plan(no_new_privs=True))
    names = kernel.names()
    assert names == ["set_rlimit", "give_stdio_to", "drop_bounding", "set_keepcaps",
                     "set_ids", "set_keepcaps", "capset", "raise_ambient",
                     "set_no_new_privs", "cloexec_from", "execve"]
    kill, chown = 1 << 5, 1 << 0
    assert kernel.called("drop_bounding") == [(kill | chown, 40)]
    assert kernel.called("set_keepcaps") == [(True,), (False,)]
    assert kernel.called("set_ids") == [(1000, 1000, ())]
    assert kernel.called("capset") == [(kill, kill, kill)]
    assert kernel.called("cloexec_from") == [(4,)]
    assert executed.path.endswith("/sh") and executed.argv == ["sh", "-c", "true"]
    assert "HOME=/" in executed.env or any(e.startswith("HOME=") for e in executed.env)


def test_seccomp_without_no_new_privs_is_loaded_while_privileged(process_state):
    profile = object()
    kernel, _ = run_process(process_plan(no_new_privs=False), seccomp=profile)
    names = kernel.names()
    assert names.index("load_seccomp") < names.index("set_ids")
    assert "set_no_new_privs" not in names


def test_seccomp_with_no_new_privs_is_loaded_last(process_state):
    profile = object()
    kernel = RecordingKernel()
    run_process(process_plan(no_new_privs=True), seccomp=profile, kernel=kernel,
                wait_start=lambda: kernel.calls.append(Call(name="wait_start", args=())))
    # the init waits for `start`, then the filter, then the program
    assert kernel.names()[-4:] == ["cloexec_from", "wait_start", "load_seccomp", "execve"]
    assert kernel.called("load_seccomp") == [(profile,)]


def test_a_missing_program_fails_before_anything_changes(process_state):
    plan = process_plan(no_new_privs=True).replace(args=("no-such-program",))
    kernel = RecordingKernel()
    with pytest.raises(Exception, match='executable file not found in \\$PATH'):
        finish_and_exec(kernel, plan)
    assert "set_ids" not in kernel.names() and "execve" not in kernel.names()


def test_rootfs_mounts_devices_and_links(tmp_path):
    rootfs = tmp_path / "rootfs"
    (rootfs / "dev").mkdir(parents=True)
    spec = parse_config(default_config())
    cgroup = tmp_path / "cgroup" / "pids" / "estiba" / "c1"  # stands for the host's
    cgroup.mkdir(parents=True)
    plan = plan_init(spec, str(rootfs), {"pids": str(cgroup)}, "/estiba/c1")
    kernel = RecordingKernel()
    entered = []
    prepare_rootfs(kernel, plan, before_cgroup2=lambda: entered.append(True))

    mounts = kernel.called("mount")
    # the host's tree becomes a slave first, then the rootfs a mount point of its own
    assert mounts[0] == ("", "/", "", k.MS_SLAVE | k.MS_REC, "", "/")
    assert mounts[1][:4] == (str(rootfs), str(rootfs), "", k.MS_BIND | k.MS_REC)
    labels = [m[5] for m in mounts[2:]]
    assert labels[:2] == ["/proc", "/dev"]
    assert ("/sys/fs/cgroup/pids", str(cgroup)) in [(m[5], m[0]) for m in mounts]
    assert not entered  # no cgroup2 mount on a v1 plan
    # mount points were made inside the rootfs
    assert (rootfs / "dev" / "pts").is_dir() and (rootfs / "sys" / "fs" / "cgroup").is_dir()
    # device nodes are made through a descriptor of their directory (no symlink
    # followed on the way): /proc/self/fd/N/null
    made = kernel.called("mknod")
    assert all(path.startswith("/proc/self/fd/") for path, *_ in made)
    nodes = {os.path.basename(path): (major, minor) for path, _mode, major, minor in made}
    assert nodes["null"] == (1, 3)
    assert os.readlink(rootfs / "dev" / "ptmx") == "pts/ptmx"
    assert os.readlink(rootfs / "dev" / "fd") == "/proc/self/fd"


def test_the_init_waits_for_its_cgroup_only_before_mounting_it(tmp_path):
    # The runtime makes the cgroup while the init makes its other mounts.
    rootfs = tmp_path / "rootfs"
    (rootfs / "dev").mkdir(parents=True)
    cgroup = tmp_path / "cgroup"
    paths = {c: str(cgroup / c / "estiba" / "c1") for c in ("pids", "memory")}
    for path in paths.values():
        os.makedirs(path)
    plan = plan_init(parse_config(default_config()), str(rootfs), paths, "/estiba/c1")
    kernel = RecordingKernel()
    waited: list[int] = []
    prepare_rootfs(kernel, plan, before_cgroup=lambda: waited.append(
        len(kernel.called("mount"))))

    labels = [m[5] for m in kernel.called("mount")]
    first_bind = labels.index("/sys/fs/cgroup/memory")
    assert waited[0] == first_bind  # after the tmpfs under the binds, before them
    assert labels[first_bind - 1] == "/sys/fs/cgroup"
    assert [s.destination for s in plan.mounts if s.cgroup] == \
        ["/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"]


def test_a_mount_through_a_symlink_pointing_out_stays_inside(tmp_path):
    rootfs = tmp_path / "rootfs"
    outside = tmp_path / "outside"
    rootfs.mkdir()
    outside.mkdir()
    os.symlink(str(outside), rootfs / "data")
    config = default_config()
    config["mounts"] = [{"destination": "/data/x", "type": "tmpfs", "source": "tmpfs"}]
    plan = plan_init(parse_config(config), str(rootfs), {}, "/estiba/c1")
    kernel = RecordingKernel()
    prepare_rootfs(kernel, plan)
    assert list(outside.iterdir()) == []
    assert (rootfs / str(outside).lstrip("/") / "x").is_dir()
    assert kernel.called("mount")[2][5] == "/data/x"
