"""An adopted task whose shim is watched: the runtime is asked its status once, then
the service knows it (as it knows the tasks it made), so a daemon restart does not make
every later look (``docker ps``, ``inspect``) start the runtime. The fake conmon and
runtime are those of test_tasks_fake_shim."""

from __future__ import annotations

import test_tasks_fake_shim as fake

NS = fake.NS
setup = fake.setup  # the fixture: a fake conmon and runtime, Tasks made on them


def test_an_adopted_task_is_asked_of_the_runtime_once(setup, monkeypatch):
    from estiba.core.runtimes import RuntimeCLI

    make, container, _ = setup
    first = make()
    first.create(container("r", "sleep"), [])
    first.start(NS, "r")
    first.close()
    asked = []
    real = RuntimeCLI.state
    monkeypatch.setattr(RuntimeCLI, "state",
                        lambda self, id: asked.append(id) or real(self, id))
    second = make()
    assert [t.status for t in second.adopt()] == ["running"]
    assert second.get(NS, "r").status == "running"
    assert [t.status for t in second.list(NS)] == ["running"]
    second.pause(NS, "r")  # the fake runtime accepts it and changes nothing
    assert second.get(NS, "r").status == "paused"
    assert asked == ["r"]  # the shim is watched: an exit would be told
    second.kill(NS, "r", 9)
    assert second.wait(NS, "r", timeout=10).exit_status == 137
    second.delete(NS, "r")
