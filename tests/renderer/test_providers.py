"""providerRef: the provider's release object rendered from a template in clusterstacks/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from csops.renderer import RendererError, render_repo, write

pytestmark = pytest.mark.integration

API = "infrastructure.clusterstack.x-k8s.io/v1alpha1"
TEMPLATE = {
    "apiVersion": API,
    "kind": "OpenStackClusterStackReleaseTemplate",
    "metadata": {"name": "cspotemplate", "namespace": "cluster"},
    "spec": {
        "template": {
            "metadata": {"labels": {"from": "template", "both": "template"}},
            "spec": {"identityRef": {"kind": "Secret", "name": "openstack"}},
        }
    },
}
PROVIDER_RELEASES = "cluster/openstackclusterstackrelease.infrastructure.clusterstack.x-k8s.io"


def use_provider(repo: Path, template: dict[str, Any] | None = TEMPLATE, **ref: str) -> None:
    path = repo / "clusterstacks" / "openstack-birch-1-31.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["metadata"]["labels"] = {"both": "stack", "team": "a"}
    doc["spec"]["noProvider"] = False
    doc["spec"]["providerRef"] = {
        "apiVersion": API,
        "kind": "OpenStackClusterStackReleaseTemplate",
        "name": "cspotemplate",
        **ref,
    }
    path.write_text(yaml.safe_dump(doc))
    if template is not None:
        (repo / "clusterstacks" / "cspo-template.yaml").write_text(yaml.safe_dump(template))


def manifest(repo: Path, rel: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((repo / "rendered" / "manifests" / rel).read_text())
    return loaded


def test_provider_release_object_comes_from_the_template(stacks_repo: Path) -> None:
    use_provider(stacks_repo)
    result = render_repo(stacks_repo)
    assert not [w for w in result.warnings if "providerRef" in w.field]
    write(result)
    provider = manifest(stacks_repo, f"{PROVIDER_RELEASES}/openstack-birch-1-31-v1.yaml")
    assert provider["kind"] == "OpenStackClusterStackRelease" and provider["apiVersion"] == API
    assert provider["spec"] == {"identityRef": {"kind": "Secret", "name": "openstack"}}
    labels = provider["metadata"]["labels"]
    assert {k: labels[k] for k in ("from", "both", "team")} == {
        "from": "template",
        "both": "stack",  # the ClusterStack's labels win, as in CSO
        "team": "a",
    }
    release = manifest(
        stacks_repo,
        "cluster/clusterstackrelease.clusterstack.x-k8s.io/openstack-birch-1-31-v1.yaml",
    )
    assert release["spec"]["providerRef"] == {
        "apiVersion": API,
        "kind": "OpenStackClusterStackRelease",
        "name": "openstack-birch-1-31-v1",
        "namespace": "cluster",
    }
    template = manifest(
        stacks_repo,
        "cluster/openstackclusterstackreleasetemplate.infrastructure.clusterstack.x-k8s.io/"
        "cspotemplate.yaml",
    )
    assert template["spec"] == TEMPLATE["spec"]
    # stacks without a provider keep an empty ClusterStackRelease spec
    docker = manifest(
        stacks_repo, "cluster/clusterstackrelease.clusterstack.x-k8s.io/docker-alder-1-29-v1.yaml"
    )
    assert docker["spec"] == {}


@pytest.mark.parametrize(
    ("template", "ref", "message"),
    [
        (None, {}, "names OpenStackClusterStackReleaseTemplate 'cspotemplate', which is not in"),
        (TEMPLATE, {"name": "other"}, "names OpenStackClusterStackReleaseTemplate 'other'"),
        ({**TEMPLATE, "spec": {}}, {}, "has no spec.template"),
        ({**TEMPLATE, "apiVersion": "v1"}, {}, "needs the apiVersion of its provider"),
    ],
)
def test_unusable_provider_reference_is_refused(
    stacks_repo: Path, template: dict[str, Any] | None, ref: dict[str, str], message: str
) -> None:
    use_provider(stacks_repo, template, **ref)
    with pytest.raises(RendererError) as caught:
        render_repo(stacks_repo)
    assert any(message in str(p) for p in caught.value.problems), caught.value.problems
