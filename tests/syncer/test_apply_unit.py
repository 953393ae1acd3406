"""No-op detection without an API server: subset comparison, field ownership, normalisation."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from csops.syncer import quantity
from csops.syncer.apply import comparable, in_sync, is_subset, owned_by

pytestmark = pytest.mark.unit

# ------------------------------------------------------------------ quantities


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Decimal(1)),
        ("1000m", Decimal(1)),
        ("500m", Decimal("0.5")),
        ("0.5", Decimal("0.5")),
        (".5", Decimal("0.5")),
        ("1Ki", Decimal(1024)),
        ("1Gi", Decimal(1024**3)),
        ("1024Mi", Decimal(1024**3)),
        ("0.5Gi", Decimal(512 * 1024**2)),
        ("1k", Decimal(1000)),
        ("1M", Decimal(10**6)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("1E", Decimal(10**18)),
        ("2n", Decimal("2e-9")),
        ("-1", Decimal(-1)),
        (3, Decimal(3)),
        (0.25, Decimal("0.25")),
    ],
)
def test_quantity_parse(text: str | int | float, value: Decimal) -> None:
    assert quantity.parse(text) == value


@pytest.mark.parametrize("bad", ["", "1 Gi", "Gi", "1gi", "1.2.3", "abc", "1e", "0x10", True])
def test_quantity_parse_rejects(bad: Any) -> None:
    with pytest.raises(quantity.QuantityError):
        quantity.parse(bad)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("1000m", "1", True),
        (0.5, "500m", True),
        ("1024Mi", "1Gi", True),
        ("1e3", "1k", True),
        (10, "10", True),
        ("1G", "1Gi", False),
        ("100m", "1", False),
        ("x", "x", False),  # not a quantity at all
        (None, "1", False),
    ],
)
def test_quantity_equal(a: Any, b: Any, same: bool) -> None:
    assert quantity.equal(a, b) is same


def test_quantity_paths() -> None:
    assert quantity.is_quantity_path(("spec", "containers", "resources", "limits", "cpu"))
    assert quantity.is_quantity_path(("spec", "hard", "requests.memory"))
    assert quantity.is_quantity_path(("spec", "volumes", "emptyDir", "sizeLimit"))
    assert not quantity.is_quantity_path(("data", "cpu"))
    assert not quantity.is_quantity_path(("limits",))
    assert not quantity.is_quantity_path(())


# ------------------------------------------------------------------ is_subset


@pytest.mark.parametrize(
    ("desired", "live"),
    [
        ({"a": 1}, {"a": 1, "b": 2}),  # server defaults and other managers' fields
        ({"a": {"b": [1, {"c": "x"}]}}, {"a": {"b": [1, {"c": "x", "d": 0}]}, "z": 1}),
        ({"n": 1.0}, {"n": 1}),
        ({"annotations": {}}, {}),  # omitempty maps
        ({"args": []}, {}),
        ({"hostNetwork": False, "hostname": "", "priority": 0}, {}),
        ({"tolerations": None}, {}),
        ({"meta": {"annotations": {}, "labels": {}}}, {}),
        ({"data": {"b": None}}, {"data": {"b": ""}}),  # null string -> ""
        ({1: "one"}, {"1": "one"}),  # YAML int keys become JSON strings
        (
            {"resources": {"limits": {"cpu": "1000m", "memory": "1024Mi"}}},
            {"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
        ),
        (
            {"resources": {"requests": {"cpu": 0.5, "ephemeral-storage": 1}}},
            {"resources": {"requests": {"cpu": "500m", "ephemeral-storage": "1"}}},
        ),
        (
            {"spec": {"hard": {"pods": 10, "requests.memory": "0.5Gi"}}},
            {"spec": {"hard": {"pods": "10", "requests.memory": "512Mi"}}},
        ),
        ({"emptyDir": {"sizeLimit": "2048Mi"}}, {"emptyDir": {"sizeLimit": "2Gi"}}),
        (
            {"c": [{"resources": {"limits": {"cpu": "2000m"}}}]},
            {"c": [{"resources": {"limits": {"cpu": "2"}}}]},
        ),
    ],
)
def test_is_subset_matches_what_the_server_stores(desired: Any, live: Any) -> None:
    assert is_subset(desired, live)


@pytest.mark.parametrize(
    ("desired", "live"),
    [
        ({"a": 1}, {"a": 2}),
        ({"a": 1}, {}),
        ({"a": {"b": 1}}, {"a": {}}),
        ({"a": [1, 2]}, {"a": [1]}),  # lists compare element-wise, same length
        ({"a": [1]}, {"a": [1, 2]}),
        ({"a": [2, 1]}, {"a": [1, 2]}),
        ({"a": True}, {"a": 1}),  # bool is not int
        ({"a": 1}, {"a": True}),
        ({"a": "1"}, {"a": 1}),
        ({"a": "x"}, {"a": None}),
        ({"a": None}, {"a": "x"}),  # null sets the zero value: live drift is not in sync
        ({"hostNetwork": False}, {"hostNetwork": True}),
        ({"args": []}, {"args": ["--x"]}),
        ({"a": {}}, {"a": "x"}),
        # quantities compare by value only at quantity paths
        ({"data": {"cpu": "1000m"}}, {"data": {"cpu": "1"}}),
        ({"resources": {"limits": {"cpu": "100m"}}}, {"resources": {"limits": {"cpu": "1"}}}),
        ({"resources": {"limits": {"memory": "1G"}}}, {"resources": {"limits": {"memory": "1Gi"}}}),
    ],
)
def test_is_subset_detects_differences(desired: Any, live: Any) -> None:
    assert not is_subset(desired, live)


def test_comparable_strips_server_fields_and_encodes_string_data() -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "creationTimestamp": None},
        "stringData": {"token": "hello", "n": None},
        "data": {"token": "b3ZlcnJpZGRlbg==", "other": "eA=="},
        "status": {"x": 1},
    }
    assert comparable(body) == {
        "metadata": {"name": "s"},
        "data": {"token": "aGVsbG8=", "n": "", "other": "eA=="},
    }
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "stringData": {"a": "b"},
    }
    assert comparable(config_map)["stringData"] == {"a": "b"}  # only Secrets have stringData
    assert body["stringData"] == {"token": "hello", "n": None}  # input untouched


# ------------------------------------------------------------------ managedFields


def _live(body: dict[str, Any], fields: dict[str, Any], **entry: Any) -> dict[str, Any]:
    live = copy.deepcopy(body)
    live.setdefault("metadata", {}).update(
        uid="u-1",
        resourceVersion="42",
        creationTimestamp="2026-01-01T00:00:00Z",
        managedFields=[
            {
                "manager": "kube-controller-manager",
                "operation": "Update",
                "apiVersion": "apps/v1",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:status": {"f:replicas": {}}},
            },
            {
                "manager": entry.get("manager", "csops"),
                "operation": entry.get("operation", "Apply"),
                "apiVersion": entry.get("apiVersion", body["apiVersion"]),
                "fieldsType": "FieldsV1",
                "fieldsV1": fields,
            },
        ],
    )
    return live


DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "web:1",
                        "resources": {"limits": {"cpu": "1000m"}},
                    }
                ]
            },
        },
    },
}
DEPLOYMENT_FIELDS: dict[str, Any] = {
    "f:metadata": {"f:labels": {"f:app": {}}},
    "f:spec": {
        "f:replicas": {},
        "f:selector": {},
        "f:template": {
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:containers": {
                    'k:{"name":"web"}': {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:resources": {"f:limits": {"f:cpu": {}}},
                    }
                }
            },
        },
    },
}


def _server_copy(body: dict[str, Any]) -> dict[str, Any]:
    """What the API server returns: defaults added, cpu canonical, status written."""
    live = copy.deepcopy(body)
    container = live["spec"]["template"]["spec"]["containers"][0]
    container["resources"]["limits"]["cpu"] = "1"
    container["imagePullPolicy"] = "IfNotPresent"
    live["spec"]["strategy"] = {"type": "RollingUpdate"}
    live["status"] = {"replicas": 2}
    return live


def test_owned_by_reads_apply_entries_only() -> None:
    live = _live(DEPLOYMENT, DEPLOYMENT_FIELDS)
    owned, api_version = owned_by(live, "csops")
    assert api_version == "apps/v1"
    assert ("spec", "replicas") in owned
    assert ("metadata", "labels", "app") in owned
    assert ("spec", "template", "spec", "containers") in owned
    # list members (k:) are not descended into; "." is not a field
    assert not any(any(p.startswith(("k:", ".")) for p in path) for path in owned)
    assert ("status", "replicas") not in owned  # another manager's
    assert owned_by(live, "kubectl") == (set(), None)
    updated = _live(DEPLOYMENT, DEPLOYMENT_FIELDS, operation="Update")
    assert owned_by(updated, "csops") == (set(), None)


def test_in_sync_with_defaults_and_canonical_quantities() -> None:
    live = _live(_server_copy(DEPLOYMENT), DEPLOYMENT_FIELDS)
    assert in_sync(DEPLOYMENT, live, "csops")


def test_not_in_sync_when_missing_changed_or_never_applied() -> None:
    assert not in_sync(DEPLOYMENT, None, "csops")
    changed = _live(_server_copy(DEPLOYMENT), DEPLOYMENT_FIELDS)
    changed["spec"]["replicas"] = 5  # drift by hand
    assert not in_sync(DEPLOYMENT, changed, "csops")
    by_someone_else = _live(_server_copy(DEPLOYMENT), DEPLOYMENT_FIELDS, manager="kubectl")
    assert not in_sync(DEPLOYMENT, by_someone_else, "csops")


def test_not_in_sync_when_applied_at_another_api_version() -> None:
    live = _live(_server_copy(DEPLOYMENT), DEPLOYMENT_FIELDS, apiVersion="apps/v1beta2")
    assert not in_sync(DEPLOYMENT, live, "csops")


def test_not_in_sync_when_a_field_was_dropped_from_git() -> None:
    """csops still owns ``spec.replicas`` (and a label) that the new desired body dropped:
    only an apply releases them, so the object is not in sync."""
    live = _live(_server_copy(DEPLOYMENT), DEPLOYMENT_FIELDS)
    without_replicas = copy.deepcopy(DEPLOYMENT)
    del without_replicas["spec"]["replicas"]
    assert not in_sync(without_replicas, live, "csops")
    fields = copy.deepcopy(DEPLOYMENT_FIELDS)
    fields["f:metadata"]["f:labels"]["f:old"] = {}
    live = _live(_server_copy(DEPLOYMENT), fields)
    live["metadata"]["labels"]["old"] = "x"
    assert not in_sync(DEPLOYMENT, live, "csops")


def test_in_sync_secret_string_data_and_null_creation_timestamp() -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s", "namespace": "ns", "creationTimestamp": None},
        "type": "Opaque",
        "stringData": {"token": "hello"},
    }
    live = _live(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s", "namespace": "ns"},
            "type": "Opaque",
            "data": {"token": "aGVsbG8="},
        },
        {"f:stringData": {"f:token": {}}, "f:type": {}},
    )
    assert in_sync(body, live, "csops")
    live["data"]["token"] = "Y2hhbmdlZA=="
    assert not in_sync(body, live, "csops")
