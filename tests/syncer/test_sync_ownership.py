"""What csops owns, on a real API server: members are found at the version they were applied
at, leave the inventory only once confirmed deleted, a blocked prune narrows nothing, a stale
revision prunes nothing and fails the pass, and existing objects are taken over only with
consent."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from csops.syncer.adoption import ADOPT_ANNOTATION
from csops.syncer.controller import sync_once
from csops.syncer.inventory import InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.objects import ObjectId
from csops.syncer.prune import PRUNE_ANNOTATION, PruneGuards
from csops.syncer.settings import Settings
from tests.syncer.conftest import StacksRepo, git
from tests.syncer.test_sync_processes import csops_sync

pytestmark = pytest.mark.integration

CRD = "apiextensions.k8s.io/v1"


def crd(group: str, kind: str, versions: list[str]) -> str:
    """A namespaced CRD serving ``versions`` (the last one stored)."""
    served = "".join(
        f"  - name: {v}\n    served: true\n    storage: {str(v == versions[-1]).lower()}\n"
        "    schema:\n      openAPIV3Schema:\n        type: object\n"
        "        x-kubernetes-preserve-unknown-fields: true\n"
        for v in versions
    )
    plural = kind.lower() + "s"
    return (
        f"apiVersion: {CRD}\nkind: CustomResourceDefinition\n"
        f"metadata:\n  name: {plural}.{group}\n"
        f"spec:\n  group: {group}\n  scope: Namespaced\n"
        f"  names:\n    kind: {kind}\n    plural: {plural}\n    singular: {kind.lower()}\n"
        f"  versions:\n{served}"
    )


def custom(api_version: str, kind: str, name: str, ns: str) -> str:
    return (
        f"apiVersion: {api_version}\nkind: {kind}\n"
        f"metadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  size: 1\n"
    )


def configmap(name: str, ns: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n"


def members(kube: Kube, config: Settings) -> set[ObjectId]:
    return InventoryStore(kube, config.name, config.inventory_namespace).read().members


@pytest.fixture
def group(kube: Kube) -> Iterator[str]:
    """A fresh API group; its CRDs are deleted afterwards."""
    name = f"t{secrets.token_hex(3)}.csops.test"
    yield name
    res = kube.resource(CRD, "CustomResourceDefinition")
    for kind in ("widgets", "gadgets"):
        kube.delete(res, None, f"{kind}.{name}")


def test_a_kind_served_only_below_the_preferred_version_is_pruned(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings, group: str
) -> None:
    ns = stacks_repo.namespace
    crds = stacks_repo.manifests / "crds"
    # the group prefers v1beta2 (Widget); Gadget is served at v1beta1 only, as the OpenStack
    # templates of the example stack are beside the Docker ones
    (crds / f"widgets.{group}.yaml").write_text(crd(group, "Widget", ["v1beta1", "v1beta2"]))
    (crds / f"gadgets.{group}.yaml").write_text(crd(group, "Gadget", ["v1beta1"]))
    own = stacks_repo.manifests / ns / f"gadget.{group}"
    own.mkdir()
    (own / "g1.yaml").write_text(custom(f"{group}/v1beta1", "Gadget", "g1", ns))
    widgets = stacks_repo.manifests / ns / f"widget.{group}"
    widgets.mkdir()
    (widgets / "w1.yaml").write_text(custom(f"{group}/v1beta2", "Widget", "w1", ns))
    stacks_repo.commit("a group with two versions")
    assert sync_once(sync_config, kube).ok
    assert kube.get(kube.resource_for_group(group, "Widget"), ns, "w1")
    gadgets = kube.resource(f"{group}/v1beta1", "Gadget")
    assert kube.get_or_none(gadgets, ns, "g1") is not None
    gadget = ObjectId(group, "Gadget", ns, "g1")
    assert gadget in members(kube, sync_config)

    (own / "g1.yaml").unlink()
    stacks_repo.commit("the gadget leaves")
    result = sync_once(sync_config, kube)
    assert result.ok, result.state()
    assert gadget in result.pruned
    assert kube.get_or_none(gadgets, ns, "g1") is None  # deleted, not leaked
    assert gadget not in members(kube, sync_config)


def test_a_member_leaves_the_inventory_only_once_confirmed_deleted(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    ns = stacks_repo.namespace
    path = stacks_repo.manifests / ns / "configmap" / "held.yaml"
    path.write_text(configmap("held", ns))
    stacks_repo.commit("held")
    assert sync_once(sync_config, kube).ok
    res = kube.resource("v1", "ConfigMap")
    held = ObjectId("", "ConfigMap", ns, "held")
    live = kube.get(res, ns, "held")
    live["metadata"]["finalizers"] = ["csops.test/hold"]
    kube.replace(res, live)

    path.unlink()
    stacks_repo.commit("held leaves")
    result = sync_once(sync_config, kube)
    assert result.ok and held in result.pruned, result.state()
    assert kube.get(res, ns, "held")["metadata"].get("deletionTimestamp")
    assert held in members(kube, sync_config)  # deleting, not deleted: still ours

    live = kube.get(res, ns, "held")
    live["metadata"]["finalizers"] = []
    kube.replace(res, live)
    assert sync_once(sync_config, kube).ok
    assert held not in members(kube, sync_config)


def test_a_blocked_prune_keeps_every_stale_member(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    assert sync_once(sync_config, kube).ok
    before = members(kube, sync_config)
    ns = stacks_repo.namespace
    res = kube.resource("v1", "ConfigMap")
    images = [m for m in before if m.kind == "ConfigMap" and m.name.endswith("node-images")]
    gone, opted_out = images[0], images[1]
    kube.delete(res, ns, gone.name)  # deleted by hand: confirmed gone
    live = kube.get(res, ns, opted_out.name)
    live["metadata"].setdefault("annotations", {})[PRUNE_ANNOTATION] = "disabled"
    kube.replace(res, live)
    stacks_repo.drop_nearly_everything()

    result = sync_once(sync_config, kube)
    assert result.prune is not None and result.prune.blocked and not result.pruned
    assert gone in result.prune.gone and opted_out in result.prune.orphaned
    assert members(kube, sync_config) == before  # nothing narrowed, not even those two

    guards = PruneGuards(allow_mass_prune=True)
    forced = replace(sync_config, options=replace(sync_config.options, guards=guards))
    result = sync_once(forced, kube)
    assert result.ok and result.pruned, result.state()
    after = members(kube, sync_config)
    assert not {gone, opted_out, *result.pruned} & after
    assert kube.get_or_none(res, ns, opted_out.name) is not None  # released, not deleted


def test_a_revision_not_freshly_fetched_fails_the_pass_and_prunes_nothing(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings, tmp_path: Path
) -> None:
    ns = stacks_repo.namespace
    assert sync_once(sync_config, kube).ok  # this replica's cache holds the first revision
    (stacks_repo.manifests / ns / "configmap" / "newer.yaml").write_text(configmap("newer", ns))
    stacks_repo.commit("newer")
    other = replace(sync_config, cache_dir=tmp_path / "other-replica")
    assert sync_once(other, kube).ok  # another replica synced the newer revision
    git(stacks_repo.remote, "branch", "-m", "main", "moved")  # the branch is gone

    result = sync_once(sync_config, kube)  # on the cached first revision
    assert not result.ok and result.fetch_error and "cannot fetch" in result.fetch_error
    assert result.prune is None and not result.pruned
    res = kube.resource("v1", "ConfigMap")
    assert kube.get_or_none(res, ns, "newer") is not None
    assert ObjectId("", "ConfigMap", ns, "newer") in members(kube, sync_config)

    run = subprocess.run(
        csops_sync(sync_config, "--once"), check=False, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1, run.stderr
    assert "cannot fetch branch 'main'" in run.stderr and "Traceback" not in run.stderr
    assert kube.get_or_none(res, ns, "newer") is not None


def foreign_configmap(kube: Kube, ns: str, name: str, **annotations: str) -> None:
    other = Kube(kube._api, field_manager="someone-else")
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations},
        "data": {"theirs": "1"},
    }
    other.apply(kube.resource("v1", "ConfigMap"), body)


def test_an_existing_object_is_taken_over_only_with_consent(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    ns = stacks_repo.namespace
    res = kube.resource("v1", "ConfigMap")
    foreign_configmap(kube, ns, "theirs")
    foreign_configmap(kube, ns, "granted", **{ADOPT_ANNOTATION: "true"})
    foreign_configmap(kube, ns, "flagged")
    target = stacks_repo.manifests / ns / "configmap"
    for name in ("theirs", "granted", "flagged"):
        body = configmap(name, ns) + "data:\n  ours: '1'\n"
        (target / f"{name}.yaml").write_text(body)
    stacks_repo.commit("three objects that exist already")

    result = sync_once(sync_config, kube)
    assert not result.ok
    refused = {o.id.name: o.error or "" for o in result.failed}
    assert set(refused) == {"theirs", "flagged"}
    assert "someone-else" in refused["theirs"] and ADOPT_ANNOTATION in refused["theirs"]
    assert "--adopt" in refused["theirs"]
    granted = ObjectId("", "ConfigMap", ns, "granted")
    assert granted in {o.id for o in result.adopted}
    assert "adopted" in result.summary()
    assert not any(o.id.kind == "ConfigMap" and o.id != granted for o in result.adopted)
    untouched = kube.get(res, ns, "theirs")
    assert untouched["data"] == {"theirs": "1"}  # not written
    assert not (untouched["metadata"].get("labels") or {})
    assert kube.get(res, ns, "granted")["data"] == {"theirs": "1", "ours": "1"}

    inventory = members(kube, sync_config)  # a refused object is not recorded as ours
    assert ObjectId("", "ConfigMap", ns, "theirs") not in inventory
    assert ObjectId("", "ConfigMap", ns, "granted") in inventory

    adopting = replace(sync_config, options=replace(sync_config.options, adopt=True))
    result = sync_once(adopting, kube)
    assert result.ok, result.state()
    assert sorted(o.id.name for o in result.adopted) == ["flagged", "theirs"]  # the rest ours
    assert kube.get(res, ns, "theirs")["data"] == {"theirs": "1", "ours": "1"}
    assert sync_once(sync_config, kube).ok  # ours now: no consent needed again
