"""The engine's image plans (pure): lookup by name or id, Docker's list filters, the
history rows, what a delete drops or refuses, what a prune takes."""

from __future__ import annotations

import pytest

from estiba import errors
from estiba.engine import filters
from estiba.engine import images as im
from estiba.engine.images import Entry, Removal, User

BUSYBOX = "docker.io/library/busybox:latest"
ID_A = "sha256:" + "a" * 64
ID_B = "sha256:" + "b" * 63 + "c"
ID_C = "sha256:" + "c" * 64
M1, M2, M3 = ("sha256:" + c * 64 for c in "123")


def entries() -> list[Entry]:
    return [
        Entry(id=ID_A, names=(BUSYBOX, "docker.io/library/mybox:1"), manifests=(M1, M1),
              created=100, size=10, chain="sha256:top-a"),
        Entry(id=ID_B, names=("docker.io/library/app:v2",), manifests=(M2,), created=200,
              size=20, labels={"tier": "web", "x": "1"}, chain="sha256:top-b"),
        Entry(id=ID_C, names=(im.dangling_name(M3),), manifests=(M3,), created=300, size=30,
              chain="sha256:top-c"),
    ]


def ids(items: list[dict]) -> list[str]:
    return [item["Id"] for item in items]


def listed(filters: dict[str, list[str]]) -> list[dict]:
    found = entries()
    return im.select(found, filters, lambda n: im.find(found, n)[0], now=1000)


def test_find_by_name_id_and_prefix() -> None:
    found = entries()
    assert im.find(found, "busybox") == (found[0], BUSYBOX)
    assert im.find(found, "mybox:1")[0].id == ID_A
    assert im.find(found, "aaaa") == (found[0], None)
    assert im.find(found, ID_B)[0].id == ID_B
    assert im.find(found, "b" * 63 + "c")[0].id == ID_B
    with pytest.raises(errors.NotFound, match="^No such image: nosuch:latest$"):
        im.find(found, "nosuch")
    with pytest.raises(errors.NotFound, match="^No such image: 0123$"):
        im.find(found, "0123")
    two = [*found, Entry(id="sha256:a" + "f" * 63, names=(), manifests=(), created=0,
                         size=0)]
    with pytest.raises(errors.InvalidArgument, match="ambiguous"):
        im.find(two, "a")


def test_tags_and_dangling() -> None:
    a, b, c = entries()
    assert a.tags == ["busybox:latest", "mybox:1"] and not a.dangling
    assert c.tags == [] and c.dangling
    assert im.is_tag(BUSYBOX) and not im.is_tag(im.dangling_name(M3))
    assert not im.is_tag(f"docker.io/library/import-2026-01-01@{M1}")


def test_list_newest_first_and_dangling_shown_as_none() -> None:
    items = listed({})
    assert ids(items) == [ID_C, ID_B, ID_A]
    assert items[0]["RepoTags"] == ["<none>:<none>"]
    assert items[0]["RepoDigests"] == ["<none>@<none>"]
    assert items[2]["RepoTags"] == ["busybox:latest", "mybox:1"]
    assert items[2]["RepoDigests"] == []
    assert items[2]["Containers"] == -1 and items[2]["SharedSize"] == -1


def test_list_filters() -> None:
    assert ids(listed({"dangling": ["true"]})) == [ID_C]
    assert ids(listed({"dangling": ["false"]})) == [ID_B, ID_A]
    assert ids(listed({"label": ["tier"]})) == [ID_B]
    assert ids(listed({"label": ["tier=web", "x=1"]})) == [ID_B]
    assert ids(listed({"label": ["tier=db"]})) == []
    assert ids(listed({"before": ["app:v2"]})) == [ID_A]
    assert ids(listed({"since": ["app:v2"]})) == [ID_C]
    assert ids(listed({"until": ["150"]})) == [ID_A]
    with pytest.raises(errors.NotFound, match="No such image: nosuch:latest"):
        listed({"since": ["nosuch"]})
    with pytest.raises(errors.InvalidArgument, match="dangling=maybe"):
        listed({"dangling": ["maybe"]})


def test_reference_filter_narrows_the_tags() -> None:
    items = listed({"reference": ["my*"]})
    assert ids(items) == [ID_A] and items[0]["RepoTags"] == ["mybox:1"]
    assert ids(listed({"reference": ["busybox:lat*"]})) == [ID_A]
    assert ids(listed({"reference": ["*:v?"]})) == [ID_B]
    assert ids(listed({"reference": ["nothing*"]})) == []


def test_matches_reference() -> None:
    assert im.matches_reference("busybox", BUSYBOX)
    assert im.matches_reference("busy*", BUSYBOX)
    assert not im.matches_reference("*", "docker.io/user/app:1")  # * stops at /
    assert im.matches_reference("*/*", "docker.io/user/app:1")
    assert im.matches_reference("localhost:5000/a*", "localhost:5000/app:1")
    assert im.matches_reference("[ab]pp", "docker.io/library/app:1")


def test_parse_until() -> None:
    assert filters.parse_until("100", now=1000) == 100
    assert filters.parse_until("10m", now=1000) == 400
    assert filters.parse_until("1h1s", now=7200) == 3599
    assert filters.parse_until("1970-01-01T00:01:40Z", now=0) == 100
    with pytest.raises(errors.InvalidArgument):
        filters.parse_until("soon", now=0)


def test_history_newest_first_with_layer_sizes() -> None:
    config = {"created": "2026-01-01T00:00:10Z", "history": [
        {"created": "2026-01-01T00:00:00Z", "created_by": "ADD rootfs", "comment": "base"},
        {"created": "2026-01-01T00:00:05Z", "created_by": "ENV A=b", "empty_layer": True},
        {"created": "2026-01-01T00:00:10Z", "created_by": "RUN make"},
    ]}
    rows = im.history(config, [1000, 7], ID_A, ["app:1"])
    assert [r["CreatedBy"] for r in rows] == ["RUN make", "ENV A=b", "ADD rootfs"]
    assert [r["Size"] for r in rows] == [7, 0, 1000]
    assert [r["Id"] for r in rows] == [ID_A, "<missing>", "<missing>"]
    assert [r["Tags"] for r in rows] == [["app:1"], None, None]
    assert rows[2]["Comment"] == "base" and rows[0]["Created"] == 1767225610
    assert set(rows[0]) == {"Id", "Created", "CreatedBy", "Tags", "Size", "Comment"}


def test_history_without_config_history() -> None:
    rows = im.history({"created": "2026-01-01T00:00:00Z"}, [5], ID_A, [])
    assert rows == [{"Id": ID_A, "Created": 1767225600, "CreatedBy": "", "Tags": None,
                     "Size": 5, "Comment": ""}]


def test_delete_untags_while_other_tags_remain() -> None:
    a = entries()[0]
    stopped = [User(id="f" * 64, running=False, parent=a.chain)]
    assert im.plan_delete(a, BUSYBOX, stopped, force=False) == Removal(untag=(BUSYBOX,))


def test_delete_last_tag() -> None:
    b = entries()[1]
    name = b.names[0]
    assert im.plan_delete(b, name, [], force=False) == Removal(untag=(name,), delete=True)
    other = [User(id="9" * 64, running=True, parent="sha256:elsewhere")]
    assert im.plan_delete(b, name, other, force=False).delete
    user = [User(id="e" * 64, running=False, parent=b.chain)]
    with pytest.raises(errors.Conflict) as err:
        im.plan_delete(b, name, user, force=False)
    assert str(err.value) == (
        'conflict: unable to remove repository reference "app:v2" (must force) - '
        f"container {'e' * 12} is using its referenced image {'b' * 12}")
    assert im.plan_delete(b, name, user, force=True) == Removal(untag=(name,), delete=True)
    running = [User(id="e" * 64, running=True, parent=b.chain)]
    assert im.plan_delete(b, name, running, force=True) == Removal(untag=(name,), keep=True)


def test_delete_by_id() -> None:
    a, b, c = entries()
    with pytest.raises(errors.Conflict, match=r"^conflict: unable to delete aaaaaaaaaaaa "
                       r"\(must be forced\) - image is referenced in multiple repositories$"):
        im.plan_delete(a, None, [], force=False)
    assert im.plan_delete(a, None, [], force=True) == Removal(
        untag=(BUSYBOX, "docker.io/library/mybox:1"), delete=True)
    assert im.plan_delete(c, None, [], force=False) == Removal(delete=True)
    stopped = [User(id="d" * 64, running=False, parent=b.chain)]
    with pytest.raises(errors.Conflict, match="must be forced.*stopped container dddd"):
        im.plan_delete(b, None, stopped, force=False)
    assert im.plan_delete(b, None, stopped, force=True).delete
    running = [User(id="d" * 64, running=True, parent=b.chain)]
    with pytest.raises(errors.Conflict, match="cannot be forced.*running container dddd"):
        im.plan_delete(b, None, running, force=True)


def test_removal_report() -> None:
    a = entries()[0]
    assert im.removal_report(a, [BUSYBOX], True) == [
        {"Untagged": "busybox:latest"}, {"Deleted": ID_A}]
    assert im.removal_report(a, [BUSYBOX], False) == [{"Untagged": "busybox:latest"}]


def test_prunable() -> None:
    found = entries()
    assert [e.id for e in im.prunable(found, {}, [], now=1000)] == [ID_C]
    users = [User(id="1" * 64, running=False, parent="sha256:top-c")]
    assert im.prunable(found, {}, users, now=1000) == []
    everything = im.prunable(found, {"dangling": ["false"]}, users, now=1000)
    assert [e.id for e in everything] == [ID_A, ID_B]
    assert [e.id for e in im.prunable(found, {"dangling": ["false"], "label": ["tier"]},
                                      [], now=1000)] == [ID_B]
    assert [e.id for e in im.prunable(found, {"dangling": ["false"], "until": ["150"]},
                                      [], now=1000)] == [ID_A]


def test_target_name() -> None:
    assert im.target_name("mybox", "1") == "docker.io/library/mybox:1"
    assert im.target_name("mybox", "") == "docker.io/library/mybox:latest"
    assert im.target_name("localhost:5000/a/b", "x") == "localhost:5000/a/b:x"
    with pytest.raises(errors.InvalidArgument):
        im.target_name("", "1")
    with pytest.raises(errors.InvalidArgument):
        im.target_name("Upper", "1")
    with pytest.raises(errors.InvalidArgument):
        im.target_name(f"app@{M1}", "")
