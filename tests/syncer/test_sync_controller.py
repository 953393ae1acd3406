"""The long-running controller: drift correction, webhook, force-push, other field managers,
a CRD and its custom resources in one revision."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from csops.controlplane import AuditLog
from csops.syncer import webhook
from csops.syncer.application import Application
from csops.syncer.controller import Controller, sync_once
from csops.syncer.diff import cluster_diff
from csops.syncer.kube import Kube
from csops.syncer.settings import Settings, WebhookSettings
from csops.syncer.source import open_source
from csops.syncer.stackstatus import GROUP
from tests.polling import eventually
from tests.syncer.conftest import StacksRepo, git

pytestmark = pytest.mark.integration

OLD = "docker-alder-1-29-v1"
SECRET = b"s3cret"


def configmap(name: str, namespace: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"


@pytest.fixture
def app(sync_config: Settings, kube: Kube) -> Iterator[Application]:
    config = replace(
        sync_config, interval=300.0, listen=("127.0.0.1", 0), webhook=WebhookSettings(SECRET)
    )
    yield from running(config)


def running(config: Settings) -> Iterator[Application]:
    application = Application(config)
    ctl = application.build()
    thread = threading.Thread(target=application.serve, daemon=True)
    thread.start()
    eventually(lambda: ctl.last_result is not None and ctl.last_result.ok, 30)
    yield application
    application.stop()
    thread.join(10)


@pytest.fixture
def controller(app: Application) -> Controller:
    assert app.controller is not None
    return app.controller


def test_hand_edit_and_hand_delete_are_put_back(
    controller: Controller, kube: Kube, stacks_repo: StacksRepo, audit: AuditLog
) -> None:
    ns = stacks_repo.namespace
    res = kube.resource("v1", "ConfigMap")
    name = f"{OLD}-node-images"
    eventually(lambda: not controller.wake.is_set() and not controller.repair.pending, 10)
    passed = controller.last_result
    live = kube.get(res, ns, name)
    original = live["data"]["node-images.yaml"]
    live["data"]["node-images.yaml"] = "edited by hand"
    with audit.window() as edit:
        kube.replace(res, live)
        started = time.monotonic()
        eventually(lambda: kube.get(res, ns, name)["data"]["node-images.yaml"] == original, 10)
        edit_fixed = time.monotonic() - started
    kube.delete(res, ns, name)
    started = time.monotonic()
    eventually(lambda: kube.get_or_none(res, ns, name) is not None, 10)
    deleted_fixed = time.monotonic() - started
    print(f"hand edit corrected in {edit_fixed:.2f}s, hand delete in {deleted_fixed:.2f}s")
    # put back alone, without a pass: no list, no other object read or written than the
    # ClusterStack whose status counts the correction (and its Event)
    assert controller.last_result is passed
    requests = {(e.verb, e.resource, e.name) for e in edit.requests(user="csops")}
    assert ("patch", "configmaps", name) in requests, requests
    stack = "docker-alder-1-29"
    allowed = {
        ("update", "configmaps", name),  # the hand edit (this test's client is user csops too)
        ("get", "configmaps", name),
        ("patch", "configmaps", name),
        ("watch", "configmaps", ""),
        ("get", "clusterstacks", stack),
        ("patch", "clusterstacks", stack),
        ("create", "events", ""),
    }
    discovery = {r for r in requests if r[0] == "get" and not r[1]}  # a cache refresh
    assert requests - discovery <= allowed, requests - discovery - allowed
    stacks = kube.resource_for_group(GROUP, "ClusterStack")

    def drift() -> dict[str, Any]:
        found: dict[str, Any] = kube.get(stacks, ns, stack)["status"].get("drift") or {}
        return found if found.get("corrections", 0) >= 2 else {}  # the edit, then the delete

    assert eventually(drift, 10, "both corrections counted")["lastObjects"] == [
        f"ConfigMap {ns}/{name}"
    ]


def test_webhook_good_and_bad_signature(
    app: Application, kube: Kube, stacks_repo: StacksRepo
) -> None:
    assert app.endpoints is not None
    base = f"http://127.0.0.1:{app.endpoints.port}"
    body = b'{"ref": "refs/heads/main"}'
    bad = urllib.request.Request(
        f"{base}/hook", body, {"X-Hub-Signature-256": webhook.sign(b"wrong", body)}
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(bad, timeout=5)
    assert info.value.code == 401
    res = kube.resource("v1", "ConfigMap")
    ns = stacks_repo.namespace
    (stacks_repo.manifests / ns / "configmap" / "hooked.yaml").write_text(configmap("hooked", ns))
    stacks_repo.commit("add hooked")
    webhooks = "csops_webhook_requests_total"
    assert app.metrics.registry.get_sample_value(webhooks, {"result": "rejected"}) == 1
    assert app.metrics.registry.get_sample_value(webhooks, {"result": "accepted"}) == 0
    assert kube.get_or_none(res, ns, "hooked") is None  # bad signature: no sync was triggered
    good = urllib.request.Request(
        f"{base}/hook", body, {"X-Hub-Signature-256": webhook.sign(SECRET, body)}
    )
    assert urllib.request.urlopen(good, timeout=5).status == 202
    eventually(lambda: kube.get_or_none(res, ns, "hooked") is not None, 10)
    assert b"csops_sync_revision_info" in urllib.request.urlopen(f"{base}/metrics").read()
    assert urllib.request.urlopen(f"{base}/readyz").status == 200


@pytest.fixture
def hook_app(sync_config: Settings, kube: Kube) -> Iterator[Application]:
    """The webhook on a port of its own, apart from /metrics."""
    hooks = WebhookSettings(SECRET, listen=("127.0.0.1", 0))
    config = replace(sync_config, interval=300.0, listen=("127.0.0.1", 0), webhook=hooks)
    yield from running(config)


def answer(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers or {}), timeout=5):
            pass
    except urllib.error.HTTPError as error:
        return error.code
    return 200 if body is None else 202


def test_webhook_on_its_own_port_gitlab_token_and_standard_webhooks(
    hook_app: Application, kube: Kube, stacks_repo: StacksRepo
) -> None:
    assert hook_app.endpoints is not None and hook_app.webhook_server is not None
    status = f"http://127.0.0.1:{hook_app.endpoints.port}"
    hooks = f"http://127.0.0.1:{hook_app.webhook_server.port}"
    body = b'{"object_kind": "push", "after": "1"}'
    gitlab = {"X-Gitlab-Token": SECRET.decode(), "X-Gitlab-Event-UUID": "u-1"}
    # the two ports serve apart: no /metrics where the git provider knocks, no /hook beside it
    assert answer(f"{hooks}/metrics") == 404
    assert answer(f"{status}/hook", body, gitlab) == 404
    assert answer(f"{status}/metrics") == 200
    res = kube.resource("v1", "ConfigMap")
    ns = stacks_repo.namespace
    for name in ("by-gitlab", "by-standard"):
        (stacks_repo.manifests / ns / "configmap" / f"{name}.yaml").write_text(configmap(name, ns))
        stacks_repo.commit(f"add {name}")
        if name == "by-gitlab":
            assert answer(f"{hooks}/hook", body, gitlab) == 202
        else:
            stamp = int(time.time())
            signature = webhook.sign_standard(SECRET, "msg-1", stamp, body)
            headers = {
                "webhook-id": "msg-1",
                "webhook-timestamp": str(stamp),
                "webhook-signature": signature,
            }
            assert answer(f"{hooks}/hook", body, headers) == 202
            assert answer(f"{hooks}/hook", body, headers) == 409  # the same delivery again
        eventually(lambda name=name: kube.get_or_none(res, ns, name) is not None, 10)
    webhooks = "csops_webhook_requests_total"
    registry = hook_app.metrics.registry
    assert registry.get_sample_value(webhooks, {"result": "accepted"}) == 2
    assert registry.get_sample_value(webhooks, {"result": "replayed"}) == 1


def test_remote_force_push(kube: Kube, stacks_repo: StacksRepo, sync_config: Settings) -> None:
    assert sync_once(sync_config, kube).ok
    base = git(stacks_repo.work, "rev-parse", "HEAD")
    ns = stacks_repo.namespace
    (stacks_repo.manifests / ns / "configmap" / "pushed.yaml").write_text(configmap("pushed", ns))
    stacks_repo.commit("add pushed")
    assert sync_once(sync_config, kube).ok
    res = kube.resource("v1", "ConfigMap")
    assert kube.get_or_none(res, ns, "pushed") is not None
    git(stacks_repo.work, "reset", "-q", "--hard", base)  # rewrite history
    head = stacks_repo.commit("rewritten", force=True)
    result = sync_once(sync_config, kube)
    assert result.ok and result.revision.endswith(head)
    assert kube.get_or_none(res, ns, "pushed") is None


def test_unreachable_remote_keeps_last_good_revision(
    stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    source = open_source(sync_config.repo, "main", sync_config.path, sync_config.cache_dir)
    good = source.fetch()
    stacks_repo.remote.rename(stacks_repo.remote.with_name("gone.git"))
    again = source.fetch()
    assert again.name == good.name
    assert again.stale_error and "cannot fetch" in again.stale_error


def test_object_owned_by_another_field_manager(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    assert sync_once(sync_config, kube).ok
    res = kube.resource("v1", "ConfigMap")
    ns, name = stacks_repo.namespace, f"{OLD}-node-images"
    other = Kube(kube._api, field_manager="someone-else")
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns},
        "data": {"node-images.yaml": "taken over", "extra": "theirs"},
    }
    other.apply(res, body)
    result = sync_once(sync_config, kube)
    assert result.ok and [str(o.id) for o in result.changed] == [f"ConfigMap {ns}/{name}"]
    live = kube.get(res, ns, name)
    assert live["data"]["node-images.yaml"] != "taken over"  # our field is ours again (force)
    assert live["data"]["extra"] == "theirs"  # a field only they set is left alone
    assert not sync_once(sync_config, kube).changed  # and it converges


def test_crd_and_its_custom_resources_in_one_revision(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings
) -> None:
    ns = stacks_repo.namespace
    group = f"{ns.replace('-', '')}.csops.test"
    crd = f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{group}
spec:
  group: {group}
  names: {{kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"""
    (stacks_repo.manifests / "crds" / f"widgets.{group}.yaml").write_text(crd)
    widgets = stacks_repo.manifests / ns / f"widget.{group}"
    widgets.mkdir()
    for i in range(3):
        (widgets / f"w{i}.yaml").write_text(
            f"apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w{i}\n"
            f"  namespace: {ns}\nspec:\n  size: {i}\n"
        )
    stacks_repo.commit("a CRD and its CRs")
    result = sync_once(sync_config, kube)
    assert result.ok, result.state()
    res = kube.resource(f"{group}/v1", "Widget")
    assert kube.get(res, ns, "w2")["spec"]["size"] == 2
    assert not sync_once(sync_config, kube).changed


def test_cluster_diff_changes_nothing(
    kube: Kube, stacks_repo: StacksRepo, sync_config: Settings, audit: AuditLog
) -> None:
    assert sync_once(sync_config, kube).ok
    ns = stacks_repo.namespace
    (stacks_repo.manifests / ns / "configmap" / "new.yaml").write_text(configmap("new", ns))
    path = stacks_repo.manifests / ns / "configmap" / f"{OLD}-node-images.yaml"
    path.write_text(path.read_text().replace("workeramd64", "workerarm64"))
    with audit.window() as window:
        diff = cluster_diff(
            stacks_repo.manifests,
            kube,
            name=sync_config.name,
            inventory_namespace=sync_config.inventory_namespace,
        )
    assert [d.id.name for d in diff.added] == ["new"]
    assert [d.id.name for d in diff.changed] == [f"{OLD}-node-images"]
    plus = [line for line in diff.changed[0].diff.splitlines() if line.startswith("+ ")]
    assert any("workerarm64" in line for line in plus), diff.changed[0].diff
    persisted = [e for e in window.writes(user="csops") if "dryRun" not in e.request_uri]
    assert persisted == []
