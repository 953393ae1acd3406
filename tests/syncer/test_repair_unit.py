"""Which watch events a drift repair takes between passes, and which need a full pass; the
parse cache and the local source's files shared with the loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from csops.syncer.changeset import Action, Change
from csops.syncer.desired import DesiredObject, ParseCache, load
from csops.syncer.engine import Engine
from csops.syncer.objects import ObjectId
from csops.syncer.repair import DriftRepair
from csops.syncer.source import LocalSource

pytestmark = pytest.mark.unit


def deployment(name: str, *, ready: bool) -> dict[str, Any]:
    replicas = 1 if ready else 0
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "ns", "generation": 1},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1,
            "replicas": 1,
            "updatedReplicas": 1,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [{"type": "Available", "status": "True" if ready else "False"}],
        },
    }


def passed(repair: DriftRepair, *lives: dict[str, Any]) -> None:
    """A good pass that applied ``lives`` (as they were after it)."""
    objects = [DesiredObject(ObjectId.of(o), o, "f.yaml") for o in lives]
    repair.end_pass(objects, [Change(ObjectId.of(o), Action.UNCHANGED, o) for o in lives])


def test_events_need_a_pass_until_a_good_one() -> None:
    repair = DriftRepair(cast(Engine, None))
    web = deployment("web", ready=True)
    assert not repair.note("MODIFIED", web)  # no pass yet
    repair.begin_pass()
    repair.end_pass(None, ())  # it failed
    assert not repair.note("MODIFIED", web)
    passed(repair, web)
    assert repair.note("MODIFIED", web) and repair.pending
    assert repair.note("DELETED", web)


def test_an_unapplied_object_or_a_changed_health_needs_a_pass() -> None:
    repair = DriftRepair(cast(Engine, None))
    passed(repair, deployment("web", ready=True))
    assert not repair.note("MODIFIED", deployment("other", ready=True))
    assert not repair.note("MODIFIED", deployment("web", ready=False))
    assert not repair.pending


def test_events_during_a_pass_are_judged_by_its_end() -> None:
    repair = DriftRepair(cast(Engine, None))
    web, old = deployment("web", ready=True), deployment("old", ready=True)
    passed(repair, web, old)
    repair.note("MODIFIED", web)
    repair.begin_pass()  # the pass reads everything afresh: the events so far are done with
    assert not repair.pending
    assert repair.note("DELETED", old) and repair.note("MODIFIED", web)  # kept, even unknown
    assert not repair.pending  # nothing to repair while the pass runs
    passed(repair, web)  # the pass pruned "old"
    assert repair.pending
    assert list(repair._pending) == [ObjectId.of(web)]


def test_the_parse_cache_parses_only_changed_files(tmp_path: Path) -> None:
    manifests = tmp_path / "rendered" / "manifests"
    manifests.mkdir(parents=True)
    for name in ("a", "b"):
        (manifests / f"{name}.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: ns\n"
        )
    (manifests / "notes.txt").write_text("not a manifest")
    source = LocalSource(tmp_path, "rendered/manifests")
    revision = source.fetch()
    assert revision.contents is not None and set(revision.contents) == {
        "a.yaml",
        "b.yaml",
        "notes.txt",
    }
    cache = ParseCache()
    first = load(revision.manifests, revision.boundary, contents=revision.contents, cache=cache)
    (manifests / "b.yaml").write_text((manifests / "b.yaml").read_text() + "data: {k: v}\n")
    again = source.fetch()
    second = load(again.manifests, again.boundary, contents=again.contents, cache=cache)
    assert [o.id.name for o in second] == ["a", "b"]
    assert second[0].body is first[0].body  # a.yaml: not parsed again
    assert second[1].body is not first[1].body and second[1].body["data"] == {"k": "v"}
    assert load(again.manifests, again.boundary) == second  # the same as read from disk
