"""``docker run --runtime estiba``: what a docker user sees of a container's output, exit
status, stdin, terminal, user, capabilities and read-only root, and of the runtime's
errors (containerd's shim reads them from the runtime's ``--log`` file)."""

from __future__ import annotations

import secrets
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.root]


def test_echo_prints_its_output(run):
    result = run("busybox", "echo", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi\n"


def test_stdout_and_stderr_reach_docker_apart(run):
    result = run("busybox", "sh", "-c", "echo to-out; echo to-err >&2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "to-out\n"
    assert "to-err" in result.stderr


@pytest.mark.parametrize(("args", "code"), [
    (("sh", "-c", "exit 3"), 3),
    (("false",), 1),
    (("true",), 0),
])
def test_the_exit_status_is_the_containers(run, args, code):
    assert run("busybox", *args).returncode == code


def test_a_missing_command_exits_127_with_the_runtimes_message(run):
    result = run("busybox", "es-no-such-command")
    assert result.returncode == 127
    # written by estiba-runtime to its --log file, passed on by the shim and dockerd
    assert 'exec: "es-no-such-command": executable file not found in $PATH' in result.stderr


def test_a_directory_as_command_exits_126(run):
    result = run("busybox", "/tmp")
    assert result.returncode == 126
    assert "permission denied" in result.stderr


def test_a_bad_flag_is_dockers_own_125(run):
    result = run("--es-no-such-flag", "busybox", "true")
    assert result.returncode == 125
    assert "unknown flag" in result.stderr


def test_a_failure_in_the_init_shows_the_runtimes_message(run):
    # dockerd cannot know that the key is missing: the container's init finds out,
    # and its message travels through the runtime's log to the docker user
    result = run("--sysctl", "net.ipv4.es_no_such_key=1", "busybox", "true")
    assert result.returncode != 0
    assert "OCI runtime create failed" in result.stderr
    assert "/proc/sys/net/ipv4/es_no_such_key: no such file or directory" in result.stderr


def test_stdin_is_piped_with_i(run):
    result = run("-i", "busybox", "cat", input="line one\nline two\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "line one\nline two\n"


def test_without_i_stdin_is_empty(run):
    result = run("busybox", "cat", input="not passed\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_t_gives_a_tty(dockerd):
    code, output = dockerd.docker_tty("run", "--runtime", "estiba", "--rm", "-t", "busybox",
                                      "sh", "-c", "tty; test -t 0 && test -t 1 && echo both")
    assert code == 0, output
    lines = output.replace("\r", "").splitlines()
    assert "/dev/pts/0" in lines
    assert "both" in lines


def test_it_reads_what_is_typed(dockerd):
    code, output = dockerd.docker_tty(
        "run", "--runtime", "estiba", "--rm", "-it", "busybox", "sh",
        input=b"echo typed-$((6 * 7))\nexit 4\n",
    )
    assert code == 4, output
    assert "typed-42" in output


def _running_in(dockerd, name: str, command: str, timeout: float = 30.0) -> None:
    """Wait until ``docker top`` lists ``command`` in the container."""
    deadline = time.monotonic() + timeout
    while True:
        top = dockerd.docker("top", name).stdout.splitlines()
        if any(line.endswith(command) for line in top[1:]):
            return
        assert time.monotonic() < deadline, f"{command!r} did not start:\n" + "\n".join(top)
        time.sleep(0.05)


def test_it_ctrl_c_interrupts_the_foreground_program(dockerd):
    # the pty must be the shell's controlling terminal for ^C to become a SIGINT
    name = f"es-ctrl-c-{secrets.token_hex(4)}"
    with dockerd.docker_pty("run", "--runtime", "estiba", "--rm", "-it", "--name", name,
                            "busybox", "sh") as session:
        session.expect("# ")
        session.send(b"sleep 300; echo not-interrupted\n")
        session.expect("sleep 300")  # the terminal's echo: sleep need not run yet
        # The shell's child takes the terminal's foreground before it execs sleep: once
        # sleep shows, ^C is a SIGINT to sleep, not to a shell still reading the line.
        _running_in(dockerd, name, "sleep 300")
        session.send(b"\x03")
        session.expect("# ")
        session.send(b"echo status-$?; exit 0\n")
        assert session.wait(30) == 0, session.text
    assert "status-130" in session.text
    assert "not-interrupted" not in session.text.replace("echo not-interrupted", "")


def test_without_t_there_is_no_tty(run):
    result = run("busybox", "sh", "-c", "test -t 0 || echo no-tty")
    assert result.stdout == "no-tty\n"


def test_user_sets_the_ids(run):
    result = run("--user", "1000:1000", "busybox", "id")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("uid=1000 gid=1000")


def test_default_capabilities_allow_chown(run):
    result = run("busybox", "chown", "1:1", "/tmp")
    assert result.returncode == 0, result.stderr


def test_cap_drop_chown_makes_chown_fail(run):
    result = run("--cap-drop", "CHOWN", "busybox", "chown", "1:1", "/tmp")
    assert result.returncode == 1
    assert "Operation not permitted" in result.stderr


def test_cap_drop_all_leaves_no_capability(run):
    result = run("--cap-drop", "ALL", "busybox", "grep", "^Cap", "/proc/self/status")
    assert result.returncode == 0, result.stderr
    caps = dict(line.split(":\t") for line in result.stdout.splitlines())
    assert caps["CapEff"] == caps["CapPrm"] == caps["CapBnd"] == "0000000000000000"


def test_read_only_root_refuses_writes_but_tmpfs_takes_them(run):
    result = run("--read-only", "--tmpfs", "/scratch", "busybox", "sh", "-c",
                 "touch /es-file; echo kept > /scratch/f && cat /scratch/f")
    assert result.returncode == 0, result.stderr
    assert "Read-only file system" in result.stderr
    assert result.stdout == "kept\n"


def test_home_comes_from_the_images_passwd(run):
    # set by the runtime, as runc does: Docker passes no HOME of its own
    assert run("busybox", "sh", "-c", "echo $HOME").stdout == "/root\n"
    assert run("--user", "65534", "busybox", "sh", "-c", "echo $HOME").stdout \
        == "/nonexistent\n"
    assert run("--user", "1000", "busybox", "sh", "-c", "echo $HOME").stdout == "/\n"
    assert run("-e", "HOME=/given", "busybox", "sh", "-c", "echo $HOME").stdout \
        == "/given\n"


def test_env_workdir_and_hostname(run):
    result = run("-e", "FOO=bar", "-w", "/tmp", "--hostname", "es-host", "busybox", "sh",
                 "-c", "echo $FOO; pwd; hostname")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["bar", "/tmp", "es-host"]
