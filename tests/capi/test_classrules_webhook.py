"""The bad classes of ``classcases`` go to the real API server with Cluster API's webhooks:
each is refused there too, for the reason ``csops validate`` gives; the good one is accepted.
And ``csops validate`` itself fails on such a class, naming the chart and the field."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from kubernetes import client
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from tests.capi.classcases import CASES, Case, bad_class, good_class
from tests.renderer.conftest import csops, stacks_repo  # noqa: F401 - fixtures

pytestmark = pytest.mark.integration

GROUP, VERSION = "cluster.x-k8s.io", "v1beta1"


def _dry_run_create(api_client: ApiClient, namespace: str, body: dict[str, Any]) -> None:
    body = {**body, "metadata": {**body["metadata"], "namespace": namespace}}
    client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        GROUP, VERSION, namespace, "clusterclasses", body, dry_run="All"
    )


def test_good_class_is_accepted(
    api_client: ApiClient, capi_crds: list[str], namespace: str
) -> None:
    _dry_run_create(api_client, namespace, good_class())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_class_is_refused_by_cluster_api(
    api_client: ApiClient, capi_crds: list[str], namespace: str, case: Case
) -> None:
    with pytest.raises(ApiException) as refused:
        _dry_run_create(api_client, namespace, bad_class(case))
    assert refused.value.status in (400, 422), refused.value.body
    message = json.loads(refused.value.body)["message"]
    assert case.server in message, message


def test_validate_names_the_chart_and_field(
    csops: Callable[..., Result],  # noqa: F811 - the fixture
    stacks_repo: Path,  # noqa: F811 - the fixture
) -> None:
    template = next(
        p
        for p in (stacks_repo / "providers/docker/alder/1-29/cluster-class/templates").glob("*")
        if "kind: ClusterClass" in p.read_text()
    )
    text = template.read_text()
    assert "machineDeploymentClass:" in text
    template.write_text(text.replace("- default-worker", "- gpu-worker", 1))
    result = csops("validate", str(stacks_repo))
    assert result.exit_code == 1, result.output
    assert "providers/docker/alder/1-29/cluster-class" in result.stderr
    assert "matchResources.machineDeploymentClass.names[0]" in result.stderr
    assert "ClusterClass docker-alder-1-29-v1" in result.stderr
    assert "Traceback" not in result.output
    assert not (stacks_repo / "rendered").exists(), "nothing is written"
