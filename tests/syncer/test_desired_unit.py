"""Loading a revision's manifests and the inventory encoding."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from csops.syncer.desired import load, load_file
from csops.syncer.errors import RevisionError
from csops.syncer.inventory import (
    GROUP_KINDS_ANNOTATION,
    ID_LABEL,
    NAMESPACES_ANNOTATION,
    TOOLING_ANNOTATION,
    InventoryStore,
    applyset_id,
)
from csops.syncer.objects import ObjectId, Resource

pytestmark = pytest.mark.unit

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: ns\n"

# ------------------------------------------------------------------ desired


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_load_sorts_skips_hidden_and_other_files(tmp_path: Path) -> None:
    write(tmp_path, "b/cm.yaml", CM.format(name="b"))
    write(tmp_path, "a.yml", CM.format(name="a") + "---\n" + CM.format(name="c") + "---\n")
    write(
        tmp_path,
        "x.json",
        json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}),
    )
    write(tmp_path, ".git/cm.yaml", CM.format(name="hidden"))
    write(tmp_path, "README.md", "not yaml: [")
    objects = load(tmp_path)
    assert [str(o.id) for o in objects] == [
        "ConfigMap ns/a",
        "ConfigMap ns/b",
        "ConfigMap ns/c",
        "Namespace ns",
    ]
    assert {o.id.name: o.source for o in objects} == {
        "a": "a.yml",
        "b": "b/cm.yaml",
        "c": "a.yml",
        "ns": "x.json",
    }


def test_list_kinds_are_flattened(tmp_path: Path) -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMapList\nitems:\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: one, namespace: ns}\n"
        "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: two, namespace: ns}\n"
    )
    path = write(tmp_path, "list.yaml", text)
    assert [o.id.name for o in load_file(path, "list.yaml")] == ["one", "two"]


def test_empty_directory_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "empty.yaml", "# nothing\n---\n")
    with pytest.raises(RevisionError, match="no Kubernetes objects"):
        load(tmp_path)
    with pytest.raises(RevisionError, match="does not exist"):
        load(tmp_path / "missing")


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        (
            CM.format(name="a") + "---\n" + "apiVersion: v1\nmetadata:\n  name: b\n",
            "objects.yaml:7",
            "missing kind",
        ),
        (
            "\n\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
            "objects.yaml:3",
            "missing metadata.name",
        ),
        (CM.format(name="a") + "---\n- just\n- a list\n", "objects.yaml:7", "must be a mapping"),
        ("kind: ConfigMap\nmetadata: {name: a}\n", "objects.yaml:1", "missing apiVersion"),
        ("apiVersion: v1\nkind: 3\nmetadata: {name: a}\n", "objects.yaml:1", "missing kind"),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: [\n",
            "objects.yaml:6",
            "not valid YAML",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n name: a\n  bad: indent\n",
            "objects.yaml:5",
            "not valid YAML",
        ),
        (
            "apiVersion: v1\nkind: ConfigMapList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n"
            "  metadata: {name: ok}\n- apiVersion: v1\n  metadata: {name: broken}\n",
            "objects.yaml:7",
            "missing kind",
        ),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, where: str, what: str) -> None:
    write(tmp_path, "sub/objects.yaml", text)
    with pytest.raises(RevisionError) as info:
        load(tmp_path)
    message = str(info.value)
    assert message.startswith(f"sub/{where}:"), message
    assert what in message


def test_duplicates_name_both_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", CM.format(name="x"))
    write(tmp_path, "b.yaml", CM.format(name="x"))
    with pytest.raises(RevisionError, match=r"b\.yaml: ConfigMap ns/x is also defined in a\.yaml"):
        load(tmp_path)


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(RevisionError, match=r"^bad\.yaml: cannot read"):
        load(tmp_path)


# ------------------------------------------------------------------ inventory


class FakeKube:
    """Just enough of Kube for InventoryStore: one Secret, one Namespace."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], dict[str, Any]] = {}
        self.writes: list[str] = []

    def get_or_none(
        self, resource: Resource, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        return self.objects.get((resource.kind, namespace, name))

    def apply(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(f"apply {resource.kind}")
        meta = body["metadata"]
        self.objects[(resource.kind, meta.get("namespace"), meta["name"])] = body
        return body

    def create(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        self.writes.append(f"create {resource.kind}")
        self.objects[(resource.kind, None, body["metadata"]["name"])] = body
        return body


MEMBERS = {
    ObjectId("", "ConfigMap", "stacks", "settings"),
    ObjectId("", "Namespace", "", "stacks"),
    ObjectId("cluster.x-k8s.io", "ClusterClass", "stacks", "docker-ferrol-1-27-v0-sha.hipstsw"),
    ObjectId(
        "apiextensions.k8s.io",
        "CustomResourceDefinition",
        "",
        "clusterstacks.clusterstack.x-k8s.io",
    ),
    ObjectId("infrastructure.cluster.x-k8s.io", "DockerMachineTemplate", "team-b", "t.1"),
}


def test_object_id_round_trip() -> None:
    for oid in MEMBERS:
        assert ObjectId.parse(str(oid)) == oid
    assert str(ObjectId("", "Namespace", "", "x")) == "Namespace x"
    assert str(ObjectId("cluster.x-k8s.io", "ClusterClass", "ns", "c")) == (
        "ClusterClass.cluster.x-k8s.io ns/c"
    )


def test_applyset_id_is_kep_3659_shaped() -> None:
    found = applyset_id("csops", "csops-system")
    assert re.fullmatch(r"applyset-[A-Za-z0-9_-]{43}-v1", found)  # unpadded base64url(sha256)
    assert found == applyset_id("csops", "csops-system")
    assert found != applyset_id("csops", "other") != applyset_id("other", "csops-system")


def test_inventory_round_trip_and_applyset_annotations() -> None:
    kube = FakeKube()
    store = InventoryStore(kube, "csops", "stacks")  # type: ignore[arg-type]
    state = {"revision": "main@sha1:abc", "ok": True, "failed": {}}
    assert store.write(MEMBERS, state)
    assert kube.writes == ["create Namespace", "apply Secret"]
    secret = kube.objects[("Secret", "stacks", "csops")]
    meta = secret["metadata"]
    assert meta["labels"] == {ID_LABEL: store.id}
    assert meta["annotations"][GROUP_KINDS_ANNOTATION] == (
        "ClusterClass.cluster.x-k8s.io,ConfigMap,"
        "CustomResourceDefinition.apiextensions.k8s.io,"
        "DockerMachineTemplate.infrastructure.cluster.x-k8s.io,Namespace"
    )
    assert meta["annotations"][NAMESPACES_ANNOTATION] == "team-b"  # parent's own ns left out
    assert meta["annotations"][TOOLING_ANNOTATION].startswith("csops/v")
    members = json.loads(base64.b64decode(secret["data"]["members"]))
    assert members == [str(m) for m in sorted(MEMBERS)]

    fresh = InventoryStore(kube, "csops", "stacks")  # type: ignore[arg-type]
    inventory = fresh.read()
    assert inventory.members == MEMBERS and inventory.state == state
    assert not fresh.write(MEMBERS, state)  # unchanged: no write
    assert fresh.write(MEMBERS - {ObjectId("", "ConfigMap", "stacks", "settings")}, state)
    assert len(kube.writes) == 3


def test_inventory_missing_or_garbled_data() -> None:
    kube = FakeKube()
    store = InventoryStore(kube, "csops", "stacks")  # type: ignore[arg-type]
    empty = store.read()
    assert empty.members == set() and empty.state == {}
    kube.objects[("Secret", "stacks", "csops")] = {
        "metadata": {"name": "csops"},
        "data": {"members": "not base64 json!", "state": ""},
    }
    garbled = store.read()
    assert garbled.members == set() and garbled.state == {}
