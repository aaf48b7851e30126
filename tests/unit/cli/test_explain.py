"""``estiba run --explain``'s account (cli/docker/explain.py): the steps laid out by
layer, and the report's wait for a removal's last steps."""

from __future__ import annotations

import pytest

from estiba.cli.docker import explain
from estiba.client.docker import DockerError

CID = "3f2a1b0c9d8e" + "0" * 52

STEPS = [
    {"at": 0.0, "layer": "engine", "action": "create",
     "details": {"api": "POST /containers/create", "id": CID, "name": "/web",
                 "image": "busybox"}},
    {"at": 0.0004, "layer": "core", "action": "snapshots.prepare",
     "details": {"key": CID, "upperdir": f"/var/lib/estiba/snapshots/{CID}/fs"}},
    {"at": 0.0121, "layer": "engine", "action": "start",
     "details": {"api": "POST /containers/{id}/start"}},
    {"at": 0.0135, "layer": "runtime", "action": "create",
     "details": {"argv": ["estiba-runtime", "create", "--bundle", "/run/b x", CID],
                 "pid": 4242}},
    {"at": 0.0136, "layer": "kernel", "action": "namespaces",
     "details": {"net": "net:[4026532712]", "shared with the daemon": ["user", "time"]}},
    {"at": 0.0137, "layer": "kernel", "action": "nft rules",
     "details": {"rules": ["fib daddr type local tcp dport 8080 dnat to 10.0.0.2:80"],
                 "made": True}},
    {"at": 0.5, "layer": "engine", "action": "left out", "details": {"steps": 7}},
    {"at": 0.9, "layer": "shim", "action": "exit", "details": {"status": 0}},
]


def test_render_lays_steps_out_by_layer_with_the_id_named_once() -> None:
    assert explain.render(STEPS) == f"""\
What happened below the Docker API for container 3f2a1b0c9d8e (web):
  $ID below is its id, {CID}
  engine: dockerd's part (Docker's semantics); core: containerd's services; shim:
  conmon, which holds the container's stdio and exit; runtime: estiba-runtime (runc's
  part); kernel: what the kernel made

      0.0 ms  engine  create  (POST /containers/create)
                        name: /web
                        image: busybox
      0.4 ms    core    snapshots.prepare
                          key: $ID
                          upperdir: /var/lib/estiba/snapshots/$ID/fs

     12.1 ms  engine  start  (POST /containers/{{id}}/start)
     13.5 ms      runtime create
                            argv: estiba-runtime create --bundle '/run/b x' $ID
                            pid: 4242
     13.6 ms        kernel  namespaces
                              net: net:[4026532712]
                              shared with the daemon: user, time
     13.7 ms        kernel  nft rules
                              rules: fib daddr type local tcp dport 8080 dnat to 10.0.0.2:80
                              made: yes
    500.0 ms  ... 7 steps left out ...
    900.0 ms      shim    exit
                            status: 0
"""


def test_a_long_list_goes_beneath_its_key() -> None:
    text = explain.render([{"at": 0, "layer": "kernel", "action": "cgroup", "details": {
        "hierarchies": ["cpu, memory: /estiba/docker-x"], "empty": []}}])
    assert "hierarchies:\n" in text
    assert text.endswith("    cpu, memory: /estiba/docker-x\n"
                         "                              empty: none\n")


def test_no_steps() -> None:
    assert explain.render([]) == "No steps were recorded.\n"


class FakeClient:
    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.asked = 0

    def explain(self, id: str) -> list[dict]:
        self.asked += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]


def test_report_waits_for_a_removal_to_end() -> None:
    removing = [*STEPS[:1], {"at": 1.0, "layer": "engine", "action": "remove",
                             "details": {}}]
    removed = [*removing, {"at": 1.1, "layer": "engine", "action": "removed",
                           "details": {}}]
    client = FakeClient(removing, removing, removed)
    text = explain.report(client, CID)  # type: ignore[arg-type]
    assert client.asked == 3
    assert text.rstrip().endswith("engine  removed")


def test_report_says_when_the_daemon_keeps_no_journal() -> None:
    client = FakeClient(DockerError(404, "page not found"))
    assert explain.report(client, CID) == (  # type: ignore[arg-type]
        "--explain: the daemon keeps no journal of container 3f2a1b0c9d8e: "
        "page not found\n")


def test_report_passes_other_errors_on() -> None:
    with pytest.raises(DockerError):
        explain.report(FakeClient(DockerError(500, "boom")), CID)  # type: ignore[arg-type]
