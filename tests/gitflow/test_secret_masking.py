"""Secret values never reach review output: masked as ``kubectl diff`` masks them."""

from __future__ import annotations

import json

import pytest

from csops import redact
from csops.renderer import diffreport, objectdiff

pytestmark = pytest.mark.unit

PATH = "manifests/ns/secret/creds.yaml"


def secret(**fields: dict[str, str]) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "ns"},
        **fields,
    }


def test_values_are_masked_and_changes_still_show() -> None:
    before = secret(data={"same": "c2FtZQ==", "old": "b2xk", "changed": "YQ=="})
    after = secret(data={"same": "c2FtZQ==", "new": "bmV3", "changed": "Yg=="})
    old, new = redact.masked(before, after)
    assert old is not None and new is not None
    assert old["data"] == {"same": "***", "old": "*** (before)", "changed": "*** (before)"}
    assert new["data"] == {"same": "***", "new": "*** (after)", "changed": "*** (after)"}
    assert before["data"]["changed"] == "YQ=="  # the inputs are left alone


def test_string_data_and_last_applied_are_masked_other_kinds_are_not() -> None:
    live = secret(stringData={"token": "hunter2"})
    live["metadata"] = {
        "name": "creds",
        "annotations": {redact.LAST_APPLIED: '{"stringData":{"token":"hunter2"}}'},
    }
    old, new = redact.masked(live, None)
    assert "hunter2" not in json.dumps(old) and new is None
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "visible"}}
    assert redact.masked(configmap, configmap) == (configmap, configmap)


def test_a_changed_secret_in_a_pull_request_comment_shows_no_value() -> None:
    def text(value: str) -> bytes:
        return (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\n  namespace: ns\n"
            f"stringData:\n  password: {value}\n  user: admin\n"
        ).encode()

    changes = objectdiff.compare_trees({PATH: text("old-pass")}, {PATH: text("new-pass")})
    rendered = diffreport.to_markdown(changes) + diffreport.to_text(changes)
    rendered += diffreport.to_json(changes)
    assert changes.count(objectdiff.CHANGED) == 1
    assert "old-pass" not in rendered and "new-pass" not in rendered and "admin" not in rendered
    assert "*** (before)" in rendered and "*** (after)" in rendered
