"""Day-2 pieces without a server: log lines, metrics series, drift memory, per-ClusterStack
Events and views, the unmanaged-ClusterStack condition, git credentials in git's environment,
the address option and the diff's reasons for keeping objects."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import shlex
from pathlib import Path
from typing import Any

import click
import pytest

from csops import gitcredentials
from csops.gitcredentials import GitCredentials, environment, redact, ssh_program
from csops.gitssh import OPTIONS_VARIABLE
from csops.options import ADDRESS
from csops.syncer import logs, stackstatus
from csops.syncer.changeset import Action, Change
from csops.syncer.desired import DesiredObject
from csops.syncer.diff import kept_reasons
from csops.syncer.errors import FetchError
from csops.syncer.events import Reason
from csops.syncer.gitauth import GitAuth, resolve
from csops.syncer.lastapplied import LastApplied
from csops.syncer.metrics import ErrorKind, Metrics
from csops.syncer.objects import ObjectId
from csops.syncer.prune import PrunePlan
from csops.syncer.stackview import StackView, age

pytestmark = pytest.mark.unit

NS = "cluster"
GROUP = "clusterstack.x-k8s.io"
STACK = ObjectId(GROUP, "ClusterStack", NS, "docker-alder-1-29")
RELEASE = "docker-alder-1-29-v1"
CONFIGMAP = ObjectId("", "ConfigMap", NS, f"{RELEASE}-node-images")
CLASS = ObjectId("cluster.x-k8s.io", "ClusterClass", NS, RELEASE)


# ---------------------------------------------------------------- logs


def _record(message: str, **extra: Any) -> logging.LogRecord:
    record = logging.LogRecord("csops.syncer", logging.WARNING, __file__, 1, message, (), None)
    record.__dict__.update(extra)
    return record


def test_text_log_lines_carry_a_utc_timestamp_and_quote_values() -> None:
    line = logs.TextFormatter().format(
        _record("synced", revision="main@sha1:abc", result="3 applied, 0 pruned", empty="")
    )
    stamp, level, rest = line.split(" ", 2)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    assert level == "warning"
    assert rest == 'synced revision=main@sha1:abc result="3 applied, 0 pruned" empty=""'


def test_log_level_and_json_lines() -> None:
    logger = logs.configure("json", "error")
    stream = io.StringIO()
    logger.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    logger.warning("dropped")
    logger.error("kept", extra={"object": "ConfigMap ns/x"})
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [e["msg"] for e in entries] == ["kept"]
    assert entries[0]["object"] == "ConfigMap ns/x" and entries[0]["ts"].endswith("Z")
    logs.configure("text", "info")


# ---------------------------------------------------------------- metrics


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_error_series_exist_from_the_start_and_process_metrics_are_collected() -> None:
    metrics = Metrics()
    samples = _samples(metrics)
    for kind in ErrorKind:
        assert samples[("csops_sync_errors_total", (("kind", str(kind)),))] == 0
    for result in ("accepted", "rejected", "replayed", "stale", "malformed", "too_large"):
        assert samples[("csops_webhook_requests_total", (("result", result),))] == 0
    assert samples[("process_resident_memory_bytes", ())] > 0
    assert any(name == "python_info" for name, _ in samples)
    assert samples[("csops_sync_last_success_timestamp_seconds", ())] == 0
    metrics.error(ErrorKind.FETCH)
    assert _samples(metrics)[("csops_sync_errors_total", (("kind", "fetch"),))] == 1


def test_clusterstack_condition_gauge_follows_flux_and_drops_vanished_stacks() -> None:
    metrics = Metrics()
    metrics.set_stacks({(NS, "a"): True, (NS, "b"): False})
    samples = _samples(metrics)

    def value(name: str, status: str) -> float | None:
        labels = (("name", name), ("namespace", NS), ("status", status), ("type", "Ready"))
        return samples.get(("csops_clusterstack_condition", labels))

    assert (value("a", "True"), value("a", "False"), value("a", "Unknown")) == (1, 0, 0)
    assert (value("b", "True"), value("b", "False")) == (0, 1)
    metrics.set_stacks({(NS, "a"): None})
    samples = _samples(metrics)
    assert value("a", "Unknown") == 1 and value("b", "False") is None


# ---------------------------------------------------------------- drift memory


def test_drift_is_a_write_git_did_not_ask_for() -> None:
    old = {"data": {"k": "v"}}
    new = {"data": {"k": "changed in git"}}
    memory = LastApplied()
    assert memory.drifted("r1", [(CONFIGMAP, old)], [CONFIGMAP]) == set()  # nothing known yet
    memory.succeeded("r1", [(CONFIGMAP, old), (CLASS, {"spec": {}})])
    assert memory.drifted("r1", [], [CONFIGMAP]) == {CONFIGMAP}  # same revision: all drift
    # a new revision: an object git changed is not drift, one it left alone is
    objects = [(CONFIGMAP, new), (CLASS, {"spec": {}})]
    assert memory.drifted("r2", objects, [CONFIGMAP, CLASS]) == {CLASS}
    memory.succeeded("r2", objects)
    assert memory.revision == "r2"


def test_after_a_restart_the_inventory_revision_tells_drift() -> None:
    memory = LastApplied("r1")
    assert memory.drifted("r1", [], [CONFIGMAP]) == {CONFIGMAP}
    assert memory.drifted("r2", [(CONFIGMAP, {})], [CONFIGMAP]) == set()


# ---------------------------------------------------------------- status and Events


def _obj(oid: ObjectId, api_version: str, **meta: Any) -> DesiredObject:
    body = {
        "apiVersion": api_version,
        "kind": oid.kind,
        "metadata": {"name": oid.name, "namespace": oid.namespace, **meta},
    }
    return DesiredObject(oid, body, "file.yaml")


def _objects() -> list[DesiredObject]:
    annotated = {"annotations": {"csops.io/releases": RELEASE}}
    return [
        _obj(STACK, f"{GROUP}/v1alpha1"),
        _obj(ObjectId(GROUP, "ClusterStackRelease", NS, RELEASE), f"{GROUP}/v1alpha1"),
        _obj(CLASS, "cluster.x-k8s.io/v1beta1", **annotated),
        _obj(CONFIGMAP, "v1", **annotated),
    ]


def _report(**kwargs: Any) -> stackstatus.PassReport:
    changes = {o.id: Change(o.id, Action.UNCHANGED, None, None, o.api_version) for o in _objects()}
    changes.update(kwargs.pop("changes", {}))
    kept = kwargs.pop("kept_in_use", {})
    return stackstatus.PassReport(
        "main@sha1:abc", changes, kept, "summary", now="2026-01-01T00:00:00Z", **kwargs
    )


def _stack_update(updates: list[stackstatus.StatusUpdate]) -> stackstatus.StatusUpdate:
    return next(u for u in updates if u.target.kind == "ClusterStack")


def test_drift_and_prune_events_go_to_the_clusterstack_they_concern() -> None:
    pruned = ObjectId("cluster.x-k8s.io", "ClusterClass", NS, "docker-alder-1-29-v0")
    report = _report(
        changes={CONFIGMAP: Change(CONFIGMAP, Action.CONFIGURED, None, None, "v1")},
        drifted=frozenset({CONFIGMAP}),
        pruned={pruned: "docker-alder-1-29-v0"},
    )
    update = _stack_update(stackstatus.compute(_objects(), report, {}))
    reasons = {reason: message for reason, message, _ in update.activity}
    assert set(reasons) == {Reason.DRIFT_CORRECTED, Reason.PRUNED}
    assert str(CONFIGMAP) in reasons[Reason.DRIFT_CORRECTED]
    assert str(pruned) in reasons[Reason.PRUNED]
    drift = update.status["drift"]
    assert drift == {
        "corrections": 1,
        "lastTime": "2026-01-01T00:00:00Z",
        "lastObjects": [str(CONFIGMAP)],
    }
    assert update.stamp == "lastSyncTime"


def test_a_new_revision_is_synced_per_stack_and_counts_add_up() -> None:
    report = _report(changes={CLASS: Change(CLASS, Action.CONFIGURED, None, None, "v1beta1")})
    live = {STACK: {"status": {"drift": {"corrections": 4, "lastTime": "t", "lastObjects": []}}}}
    update = _stack_update(stackstatus.compute(_objects(), report, live))
    [(reason, message, _)] = update.activity
    assert reason == Reason.SYNCED and str(CLASS) in message and "main@sha1:abc" in message
    assert update.status["drift"]["corrections"] == 4  # kept from the live status


def test_kept_release_is_in_status_and_its_event() -> None:
    kept_class = ObjectId("cluster.x-k8s.io", "ClusterClass", NS, "docker-alder-1-29-v0")
    kept_release = ObjectId(GROUP, "ClusterStackRelease", NS, "docker-alder-1-29-v0")
    report = _report(kept_in_use={kept_class: ["users/c1"], kept_release: ["users/c1"]})
    update = _stack_update(stackstatus.compute(_objects(), report, {}))
    assert update.status["keptInUse"] == [
        {"release": "docker-alder-1-29-v0", "clusters": ["users/c1"]}
    ]
    assert any(reason == Reason.KEPT_IN_USE and "users/c1" in m for reason, m, _ in update.events)


def test_a_clusterstack_not_in_git_gets_a_condition_saying_how_to_add_it() -> None:
    foreign = {"type": "Other", "status": "True"}
    stack = {
        "metadata": {"name": "by-hand", "namespace": NS},
        "status": {"conditions": [foreign], "usableVersions": "v1"},
    }
    [update] = stackstatus.unmanaged([stack], "main@sha1:abc")
    assert update.partial
    conditions = {c["type"]: c for c in update.status["conditions"]}
    assert conditions["Other"] == foreign
    assert conditions["ManagedFromGit"]["status"] == "False"
    assert "clusterstacks/by-hand.yaml" in conditions["ManagedFromGit"]["message"]
    assert conditions["Ready"]["reason"] == "NotManagedFromGit"
    assert set(update.status) == {"conditions"}  # the rest of the status is not csops's
    # a Ready that someone else set is left alone
    stack["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "Theirs"}]
    [update] = stackstatus.unmanaged([stack], "main@sha1:abc")
    ready = [c for c in update.status["conditions"] if c["type"] == "Ready"]
    assert ready == [{"type": "Ready", "status": "True", "reason": "Theirs"}]


def test_stack_view_rows_and_details() -> None:
    stack = {
        "metadata": {
            "name": "docker-alder-1-29",
            "namespace": NS,
            "labels": {"applyset.kubernetes.io/part-of": "applyset-x"},
        },
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "usableVersions": "v1,v2",
            "latestRelease": "docker-alder-1-29-v2 | v1.29.3",
            "lastSyncTime": "2026-01-01T00:00:00Z",
            "keptInUse": [{"release": RELEASE, "clusters": ["users/c1"]}],
            "drift": {
                "corrections": 2,
                "lastTime": "2026-01-01T00:00:00Z",
                "lastObjects": [str(CONFIGMAP)],
            },
        },
    }
    view = StackView.of(stack)
    now = 1767225600.0 + 300  # five minutes after
    assert view.managed
    assert view.row(now) == [
        NS,
        "docker-alder-1-29",
        "True",
        "v1,v2",
        "docker-alder-1-29-v2 | v1.29.3",
        "5m",
        "2",
    ]
    assert view.details(now) == [
        f"kept: {RELEASE} (in use by users/c1)",
        f"drift: put back 5m ago: {CONFIGMAP}",
    ]
    assert view.to_dict()["keptInUse"][0]["clusters"] == ["users/c1"]
    bare = StackView.of({"metadata": {"name": "x", "namespace": NS}})
    assert not bare.managed and bare.ready == "Unknown" and bare.row(now)[5] == "-"
    assert (age("2026-01-01T00:00:00Z", 1767225600.0 + 90000), age("", 0)) == ("1d", "-")


def test_diff_says_why_objects_are_kept() -> None:
    plan = PrunePlan(
        delete=[CONFIGMAP],
        kept_in_use={CLASS: ["users/c1", "users/c2"]},
        protected=[ObjectId("", "Namespace", "", NS)],
        blocked="refusing to prune 1 of 1 objects",
    )
    reasons = kept_reasons(plan)
    assert reasons[CLASS] == "in use by users/c1, users/c2"
    assert "--allow-crd-prune" in reasons[ObjectId("", "Namespace", "", NS)]
    assert reasons[CONFIGMAP] == "refusing to prune 1 of 1 objects"


# ---------------------------------------------------------------- git credentials


def _config(env: dict[str, str]) -> dict[str, str]:
    count = int(env.get("GIT_CONFIG_COUNT", "0"))
    return {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(count)}


def test_https_password_reaches_git_only_through_its_environment(tmp_path: Path) -> None:
    url = "https://git.example.org/platform/stacks.git"
    credentials = GitCredentials(username="bot", password="s3cret-token")
    env = environment(url, credentials, tmp_path, existing_config_count="2")
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_CONFIG_COUNT"] == "3"  # the caller's two entries are kept
    assert env["GIT_CONFIG_KEY_2"] == f"http.{url}.extraHeader"  # for this remote only
    basic = base64.b64encode(b"bot:s3cret-token").decode()
    assert env["GIT_CONFIG_VALUE_2"] == f"Authorization: Basic {basic}"
    assert not any("helper" in v for k, v in env.items() if k.startswith("GIT_CONFIG_KEY_"))
    assert redact(f"header {basic}", credentials) == "header ***"
    assert "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env  # a user's own ssh stays


def test_bearer_token_ca_and_ssh(tmp_path: Path) -> None:
    url = "https://git.example.org/stacks.git"
    credentials = GitCredentials(
        bearer_token="tok-123456",
        ca_cert=b"-----BEGIN CERTIFICATE-----\n",
        ssh_key=b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAsecretkeymaterial\n",
        known_hosts=b"[127.0.0.1]:2222 ssh-ed25519 AAAAC3\n",
    )
    env = environment(url, credentials, tmp_path)
    config = _config(env)
    assert config[f"http.{url}.extraHeader"] == "Authorization: Bearer tok-123456"
    assert Path(config[f"http.{url}.sslCAInfo"]).read_bytes().startswith(b"-----BEGIN CERT")
    # git executes GIT_SSH without a shell: csops-git-ssh, installed beside this Python.
    assert env["GIT_SSH"] == ssh_program() != ""
    assert "GIT_SSH_COMMAND" not in env
    ssh = json.loads(env[OPTIONS_VARIABLE])
    key = Path(ssh[ssh.index("-i") + 1])
    assert key.stat().st_mode & 0o777 == 0o600 and b"secretkeymaterial" in key.read_bytes()
    assert "StrictHostKeyChecking=yes" in ssh and "BatchMode=yes" in ssh
    assert "AAAAsecretkeymaterial" not in env[OPTIONS_VARIABLE]


def test_without_csops_git_ssh_installed_git_runs_ssh_through_its_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gitcredentials, "ssh_program", lambda: "")
    env = environment(
        "ssh://git@h/x.git", GitCredentials(known_hosts=b"h ssh-ed25519 A\n"), tmp_path
    )
    assert "GIT_SSH" not in env and OPTIONS_VARIABLE not in env
    assert shlex.split(env["GIT_SSH_COMMAND"])[:3] == ["ssh", "-o", "BatchMode=yes"]


def test_redaction_removes_secrets_and_url_userinfo() -> None:
    credentials = GitCredentials(password="hunter22", bearer_token="tok-abcdef")
    text = "fatal: https://bot:hunter22@host/x.git: auth tok-abcdef hunter22 failed"
    assert redact(text, credentials) == "fatal: https://***@host/x.git: auth *** *** failed"
    assert "hunter22" not in repr(credentials) and "tok-abcdef" not in repr(credentials)


def test_files_override_nothing_and_missing_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("file-token\n")
    (tmp_path / "key").write_bytes(b"KEY")
    creds = resolve(
        GitAuth(username="u", password_file=tmp_path / "token", ssh_key_file=tmp_path / "key"),
        None,
        "csops-system",
    )
    assert (creds.username, creds.password, creds.ssh_key) == ("u", "file-token", b"KEY")
    env_token = resolve(GitAuth(password="from-env", password_file=tmp_path / "token"), None, "x")
    assert env_token.password == "from-env"
    with pytest.raises(FetchError, match=r"--git-known-hosts .*/missing"):
        resolve(GitAuth(known_hosts_file=tmp_path / "missing"), None, "x")
    with pytest.raises(FetchError, match="needs a connection"):
        resolve(GitAuth(secret="git-creds"), None, "x")
    assert GitAuth(secret="git-creds").secret_ref("csops-system") == ("csops-system", "git-creds")
    assert GitAuth(secret="ns/git").secret_ref("csops-system") == ("ns", "git")


# ---------------------------------------------------------------- the address option


@pytest.mark.parametrize(
    ("text", "address"),
    [(":8080", ("0.0.0.0", 8080)), ("127.0.0.1:9", ("127.0.0.1", 9)), ("[::1]:80", ("::1", 80))],
)
def test_one_form_for_every_address(text: str, address: tuple[str, int]) -> None:
    assert ADDRESS.convert(text, None, None) == address


@pytest.mark.parametrize("text", ["8080", "host:", "host:http", ":70000"])
def test_bad_addresses_are_usage_errors(text: str) -> None:
    with pytest.raises(click.BadParameter, match="HOST:PORT"):
        ADDRESS.convert(text, None, None)
