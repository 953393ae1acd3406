"""Sync cases: the syncer bars of DESIGN.md §8 on a real kube-apiserver + etcd.

Longer than our modules usually are, on purpose: it is a catalogue, one self-contained case
per bar, read case by case.

One control plane (``controlplane.ControlPlane``, no controller-manager) is started for the
sync group of a harness run and stopped when the run ends; every measured run works in fresh
namespaces, and its objects are deleted afterwards (untimed, by collection) so the store does
not grow from run to run. csops talks as user ``csops``, kubectl as user ``kubectl`` (client
certificates), so the audit log tells their requests apart.

- ``sync.first-apply``: first sync of N objects (default 1,000) with csops (``sync_once``,
  in-process, fresh inventory), against ``kubectl apply --server-side --force-conflicts -R -f``
  on the same files and against ``csops sync --once`` as a fresh process; the three run side
  by side, their order rotated run by run. Bar (DESIGN §8): csops at most half kubectl's
  time (ratio ≤ 0.5).
- ``sync.noop``: a pass over the synced set as a one-shot ``sync_once`` (every file parsed),
  and ``sync.noop-controller`` as the running controller makes it (files kept from its first
  pass); write requests by user csops in the audit log (bar: zero).
- ``sync.prune``: half the objects removed from the manifests; the pass that prunes them.
- ``sync.drift``: the controller runs (watch); one managed ConfigMap is edited by hand; time
  until it is restored (bar ≤ 2 s), and the full passes meanwhile (it is put back alone).
- ``sync.latency``: the controller runs on a local directory (watchdog); a new revision in
  which 100 objects changed is written (each file replaced atomically); time until all 100
  are visible in the API (bar < 3 s).
- ``sync.rss``: ``csops sync --once`` as a child process on 5,000 objects: its peak RSS
  (``wait4`` rusage) and wall time (bar < 250 MiB).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import sync_workloads as sw
from bench.registry import Context, Figure, Stats, case, sample, timed
from csops.controlplane import AuditWindow
from csops.controlplane.server import ControlPlane, api_client_from, close_api_client
from csops.syncer.application import Application
from csops.syncer.controller import Controller, open_settings_source, sync_once
from csops.syncer.inventory import InventoryStore
from csops.syncer.kube import Kube
from csops.syncer.objects import Resource
from csops.syncer.prune import PruneGuards
from csops.syncer.reconcile import Reconciler, SyncOptions, SyncResult
from csops.syncer.settings import Settings

GROUP = "sync"
INVENTORY_NS = "bench-inventory"
NAMESPACE = Resource("", "v1", "Namespace", "namespaces", False)
BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parent.parent
DRIFT_BAR_S = 2.0
KUBECTL_FIRST_APPLY_BAR = 0.5
"""DESIGN §8: csops's first apply of 1,000 objects in at most half kubectl's time."""
LATENCY_BAR_S = 3.0
RSS_BAR_MIB = 250.0
POLL_S = 0.02
CONVERGE_TIMEOUT_S = 60.0
THROTTLE = re.compile(r"Waited for ([0-9.]+)(µs|us|ms|s) due to client-side throttling")


# --- sizes ---------------------------------------------------------------------------------


def _objects(ctx: Context) -> int:
    return ctx.options.size("sync_objects", 1000, 20)


def _prune_count(ctx: Context) -> int:
    return ctx.options.size("sync_prune", _objects(ctx) // 2, _objects(ctx) // 2)


def _latency_objects(ctx: Context) -> int:
    return ctx.options.size("sync_latency_objects", 100, 10)


def _rss_objects(ctx: Context) -> int:
    return ctx.options.size("sync_rss_objects", 5000, 40)


def _flux_units(ctx: Context) -> int:
    return ctx.options.size("flux_units", 1000, 5)


# --- the environment: one control plane per harness run -------------------------------------


@dataclass
class Env:
    """The control plane, its clients and a counter for fresh names."""

    plane: ControlPlane
    admin: Kube
    csops_kubeconfig: Path
    kubectl_kubeconfig: Path
    scratch: Path
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def tag(self, prefix: str) -> str:
        """A fresh name: ``prefix-N``."""
        return f"{prefix}-{next(self.counter)}"

    def new_set(
        self, prefix: str, plan: Callable[[int, list[str]], list[sw.Item]], size: int
    ) -> sw.ManifestSet:
        """Fresh namespaces (created now) and the manifests of ``size`` planned units."""
        tag = self.tag(prefix)
        count = sw.namespace_count(len(plan(size, ["x"])))
        namespaces = [f"{tag}-ns{i}" for i in range(count)]
        for ns in namespaces:
            self.admin.create(
                NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
            )
        return sw.write(self.scratch / "sets" / tag, tag, namespaces, plan(size, namespaces))

    def config(self, ms: sw.ManifestSet, *, max_prune_share: float = 0.5) -> Settings:
        """csops's configuration for a set: its own inventory, user csops."""
        return Settings(
            repo=str(ms.root),
            path=sw.MANIFESTS,
            kubeconfig=self.csops_kubeconfig,
            name=f"inv-{ms.set_id}",
            inventory_namespace=INVENTORY_NS,
            cache_dir=self.scratch / "cache",
            options=SyncOptions(guards=PruneGuards(max_share=max_prune_share)),
            interval=300.0,
        )

    def live(self, ms: sw.ManifestSet) -> list[dict[str, Any]]:
        """Every object of the set in the API (one label-selected LIST per kind)."""
        items: list[dict[str, Any]] = []
        for kind in sw.KINDS:
            items += self.admin.list(
                self.admin.resource("v1", kind), label_selector=ms.selector
            ).items
        return items

    def clear(self, ms: sw.ManifestSet) -> None:
        """Delete the set's objects (by collection, per namespace and kind) and its files."""
        from kubernetes.client import CoreV1Api

        client = api_client_from(self.plane.kubeconfig_path)
        try:
            core = CoreV1Api(client)
            for ns in ms.namespaces:
                core.delete_collection_namespaced_config_map(ns, label_selector=ms.selector)
                core.delete_collection_namespaced_secret(ns, label_selector=ms.selector)
                core.delete_collection_namespaced_service(ns, label_selector=ms.selector)
                core.delete_collection_namespaced_service_account(ns, label_selector=ms.selector)
        finally:
            close_api_client(client)
        shutil.rmtree(ms.root, ignore_errors=True)


def env(ctx: Context) -> Env:
    """The control plane of this harness run (started on first use, stopped at the end)."""

    def build() -> Env:
        ctx.log("sync: starting a control plane (etcd + kube-apiserver) …")
        plane = ControlPlane(ctx.tempdir("controlplane-"), name="bench", controller_manager=False)
        ctx.on_close(plane.stop)
        plane.start()
        admin = Kube.from_kubeconfig(plane.kubeconfig_path, field_manager="bench")
        ctx.on_close(admin.close)
        admin.create(
            NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INVENTORY_NS}}
        )
        ctx.log(f"sync: control plane ready in {plane.startup_seconds or 0:.1f} s at {plane.url}")
        return Env(
            plane,
            admin,
            plane.kubeconfig_for("csops"),
            plane.kubeconfig_for("kubectl"),
            ctx.tempdir("sync-"),
        )

    return ctx.once("sync.env", build)


def controller_pass(ctx: Context, config: Settings) -> Callable[[], SyncResult]:
    """A pass as the loop of ``csops sync`` runs it: one client, source and reconciler kept
    from pass to pass, so files unchanged since the pass before are not parsed again."""
    kube = Kube.from_kubeconfig(config.kubeconfig, context=config.context)
    ctx.on_close(kube.close)
    source = open_settings_source(config, kube)
    store = InventoryStore(kube, config.name, config.inventory_namespace)
    reconciler = Reconciler(kube, store, config.options, keep_parsed=True)
    return lambda: reconciler.sync(source.fetch())


def noop_pass(e: Env, run: Callable[[], SyncResult], what: str) -> tuple[float, AuditWindow]:
    """Time one pass that must change nothing; the audit window of its requests."""
    results: list[SyncResult] = []
    with e.plane.audit.window() as w:
        seconds = timed(lambda: results.append(run()))
    result = _ok(results[0], what)
    if result.changed or result.pruned:
        raise AssertionError(f"{what} did work: {result.summary()}")
    return seconds, w


def _ok(result: SyncResult, what: str) -> SyncResult:
    if not result.ok:
        raise AssertionError(
            f"{what}: sync not ok ({result.summary()}); failed: "
            f"{[f'{o.id}: {o.error}' for o in result.failed][:5]}; "
            f"health: {result.health_error}; prune errors: {list(result.prune_errors.items())[:5]}"
        )
    return result


def _expect_live(e: Env, ms: sw.ManifestSet, what: str) -> None:
    count = len(e.live(ms))
    if count != len(ms.items):
        raise AssertionError(f"{what}: {count} objects live, expected {len(ms.items)}")


def _kinds(items: list[sw.Item]) -> str:
    return ", ".join(f"{sum(i.kind == k for i in items)} {k}" for k in sw.KINDS)


def _describe(ms: sw.ManifestSet) -> dict[str, Any]:
    return {
        "objects": len(ms.items),
        "namespaces": len(ms.namespaces),
        "kinds": _kinds(ms.items),
    }


# --- child processes -----------------------------------------------------------------------


@dataclass
class ChildRun:
    """A finished child process: wall time, peak RSS (``wait4``), exit code, output tail."""

    seconds: float
    maxrss_mib: float
    code: int
    output: str


def run_child(argv: list[str], log_path: Path) -> ChildRun:
    """Run ``argv`` under :mod:`bench.childrss`; wall time as seen here, its own peak RSS.

    The launcher is a small fresh interpreter, so the child's ``ru_maxrss`` does not start
    from this (large) harness process's resident size. The launcher's own start-up (a bare
    interpreter, some tens of ms) is inside the wall time, for kubectl and csops alike.
    """
    stats_path = log_path.with_suffix(".rusage.json")
    with log_path.open("wb") as out:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bench.childrss", str(stats_path), "--", *argv],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            check=False,
        )
        seconds = time.perf_counter() - start
    text = log_path.read_text(errors="replace")
    try:
        data = json.loads(stats_path.read_text())
    except (OSError, ValueError):
        data = {"maxrss_kib": 0, "code": done.returncode}
    return ChildRun(seconds, data["maxrss_kib"] / 1024, int(data["code"]), text[-3000:])


def csops_argv(e: Env, ms: sw.ManifestSet, *, log_format: str = "text") -> list[str]:
    """``csops sync --once`` on a set, as a user runs it."""
    config = e.config(ms)
    return [
        str(BIN / "csops"),
        "sync",
        config.repo,
        "--once",
        "--path",
        config.path,
        "--kubeconfig",
        str(e.csops_kubeconfig),
        "--name",
        config.name,
        "--inventory-namespace",
        INVENTORY_NS,
        "--cache-dir",
        str(config.cache_dir),
        "--log-format",
        log_format,
    ]


def kubectl_argv(e: Env, ms: sw.ManifestSet, *extra: str) -> list[str]:
    """``kubectl apply --server-side --force-conflicts -R -f`` on a set's manifests."""
    return [
        str(BIN / "kubectl"),
        "--kubeconfig",
        str(e.kubectl_kubeconfig),
        "apply",
        "--server-side",
        "--force-conflicts",
        "-R",
        "-f",
        str(ms.manifests),
        *extra,
    ]


def _checked(run: ChildRun, what: str) -> ChildRun:
    if run.code != 0:
        raise AssertionError(f"{what} exited {run.code}:\n{run.output}")
    return run


def _throttle_seconds(text: str) -> tuple[int, float]:
    scale = {"µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    waits = [float(v) * scale[u] for v, u in THROTTLE.findall(text)]
    return len(waits), sum(waits)


# --- the controller in a thread ------------------------------------------------------------


class Running:
    """``Application(settings).serve()`` in a thread; records the end of each successful pass."""

    def __init__(self, config: Settings) -> None:
        self.app = Application(config)
        self.controller: Controller = self.app.build()
        self.passes: list[float] = []
        self.durations: list[float] = []
        """Each successful pass's duration."""
        self.controller.on_synced.append(self._passed)
        self.thread = threading.Thread(target=self.app.serve, daemon=True, name="bench-ctl")

    def _passed(self, _revision: object) -> None:
        self.passes.append(time.monotonic())
        if self.controller.last_result is not None:
            self.durations.append(self.controller.last_result.duration)

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.app.stop()
        self.thread.join(30)

    def wait_idle(self, quiet: float = 0.5, timeout: float = 120.0) -> None:
        """Until nothing woke the controller, and no drift waited for repair, for ``quiet`` s."""
        deadline = time.monotonic() + timeout
        idle_since = time.monotonic()
        while time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise AssertionError(f"the controller stopped: {self.controller.last_error}")
            if self.controller.wake.is_set() or self.controller.repair.pending:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= quiet:
                return
            time.sleep(0.02)
        raise AssertionError(f"the controller did not go idle in {timeout:.0f} s")

    def wait_quiet(self, since: float, timeout: float = 120.0) -> None:
        """Until a pass ended after ``since`` and none followed for a while (2 passes' time)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise AssertionError(f"the controller stopped: {self.controller.last_error}")
            last = self.passes[-1] if self.passes else 0.0
            result = self.controller.last_result
            quiet = max(0.5, 2 * result.duration) if result else 1.0
            if (
                self.passes
                and last >= since
                and time.monotonic() - last >= quiet
                and not self.controller.wake.is_set()
            ):
                return
            time.sleep(0.05)
        raise AssertionError(
            f"the controller did not settle in {timeout:.0f} s: {self.controller.last_error}"
        )


def _poll(check: Callable[[], bool], what: str, timeout: float = CONVERGE_TIMEOUT_S) -> float:
    """Seconds until ``check()`` holds, polling every 20 ms."""
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise AssertionError(f"{what}: not reached in {timeout:.0f} s")
        time.sleep(POLL_S)
    return time.perf_counter() - start


# --- cases ---------------------------------------------------------------------------------


@case(GROUP, "first-apply", "first apply: csops vs kubectl apply --server-side")
def first_apply(ctx: Context) -> list[Figure]:
    """csops (in-process and CLI) and kubectl on the same files, side by side, order rotated."""
    e = env(ctx)
    n = _objects(ctx)
    times: dict[str, list[float]] = {"csops": [], "kubectl": [], "cli": []}
    shape: dict[str, Any] = {}

    def csops_once() -> float:
        ms = e.new_set("fa-csops", sw.plan_objects, n)
        config = e.config(ms)
        result: list[SyncResult] = []
        seconds = timed(lambda: result.append(sync_once(config)))
        _ok(result[0], "first apply (csops)")
        _expect_live(e, ms, "first apply (csops)")
        shape.update(_describe(ms))
        e.clear(ms)
        return seconds

    def kubectl_once() -> float:
        ms = e.new_set("fa-kubectl", sw.plan_objects, n)
        run = _checked(run_child(kubectl_argv(e, ms), ms.root / "kubectl.log"), "kubectl")
        _expect_live(e, ms, "first apply (kubectl)")
        e.clear(ms)
        return run.seconds

    def cli_once() -> float:
        ms = e.new_set("fa-cli", sw.plan_objects, n)
        run = _checked(run_child(csops_argv(e, ms), ms.root / "csops.log"), "csops sync --once")
        _expect_live(e, ms, "first apply (csops CLI)")
        e.clear(ms)
        return run.seconds

    contenders = {"csops": csops_once, "kubectl": kubectl_once, "cli": cli_once}
    rounds = itertools.count()

    def once() -> float:
        i = next(rounds)
        names = list(contenders)
        order = names[i % 3 :] + names[: i % 3]
        for name in order:
            times[name].append(contenders[name]())
        return times["csops"][-1]

    stats = sample(once, runs=ctx.options.runs, warmup=ctx.options.warmup)
    k = len(stats.values)
    kubectl = Stats(times["kubectl"][-k:])
    cli = Stats(times["cli"][-k:])
    ratio = Stats([c / b for c, b in zip(stats.values, kubectl.values, strict=True)])
    cli_ratio = Stats([c / b for c, b in zip(cli.values, kubectl.values, strict=True)])
    diagnostics = _first_apply_diagnostics(e, n)

    def prepare() -> Callable[[], object]:
        config = e.config(e.new_set("fa-profile", sw.plan_objects, n))
        return lambda: sync_once(config)

    ctx.replays[f"{GROUP}.first-apply"] = prepare
    workload = (
        f"{shape['objects']:,} objects ({shape['kinds']}; Services headless) over "
        f"{shape['namespaces']} namespaces per set, one object per file; fresh namespaces and a "
        "fresh inventory per run; a real etcd + kube-apiserver on loopback"
    )
    base = {**shape, "workload": workload}
    return [
        Figure(
            f"{GROUP}.first-apply",
            f"First sync of {n:,} objects, csops (`sync_once` in-process: read, apply, "
            "health wait, inventory)",
            "s",
            stats,
            detail={**base, "requests_by_verb": diagnostics["csops_requests"]},
        ),
        Figure(
            f"{GROUP}.first-apply-kubectl",
            f"Same {n:,} files, `kubectl apply --server-side --force-conflicts -R -f` "
            "(fresh process)",
            "s",
            kubectl,
            detail={
                **shape,
                "requests_by_verb": diagnostics["kubectl_requests"],
                "throttle_waits": diagnostics["throttle_waits"],
                "throttle_seconds": diagnostics["throttle_seconds"],
                "kubectl": diagnostics["kubectl_version"],
            },
        ),
        Figure(
            f"{GROUP}.first-apply-cli",
            f"Same {n:,} objects, `csops sync --once` (fresh process: start-up and imports "
            "included)",
            "s",
            cli,
            detail={**shape, "ratio_cli_over_kubectl": cli_ratio.to_json()},
        ),
        Figure(
            f"{GROUP}.first-apply-ratio",
            "First apply, csops time / kubectl time (run by run)",
            "x",
            ratio,
            bar="≤ 0.5 (DESIGN §8)",
            met=ratio.median <= KUBECTL_FIRST_APPLY_BAR,
            detail={**shape, "ratio_cli_over_kubectl": cli_ratio.to_json()},
        ),
    ]


def _first_apply_diagnostics(e: Env, n: int) -> dict[str, Any]:
    """One untimed run of each tool inside an audit window; kubectl at -v=3 (throttling)."""
    audit = e.plane.audit
    ms = e.new_set("fa-diag-kubectl", sw.plan_objects, n)
    with audit.window() as w:
        _checked(run_child(kubectl_argv(e, ms, "-v=3"), ms.root / "kubectl.log"), "kubectl -v=3")
    kubectl_requests = dict(w.count_by_verb(user="kubectl"))
    waits, waited = _throttle_seconds((ms.root / "kubectl.log").read_text(errors="replace"))
    e.clear(ms)
    ms = e.new_set("fa-diag-csops", sw.plan_objects, n)
    with audit.window() as w:
        _ok(sync_once(e.config(ms)), "first apply (diagnostic)")
    csops_requests = dict(w.count_by_verb(user="csops"))
    e.clear(ms)
    version = subprocess.run(
        [str(BIN / "kubectl"), "version", "--client"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return {
        "kubectl_requests": kubectl_requests,
        "csops_requests": csops_requests,
        "throttle_waits": waits,
        "throttle_seconds": round(waited, 3),
        "kubectl_version": version[0] if version else "unknown",
    }


@case(GROUP, "noop", "no-op pass: wall time and write requests")
def noop(ctx: Context) -> list[Figure]:
    """A pass over an already synced set: nothing to do, no write request. Timed twice: as a
    one-shot ``sync_once`` (parses every file), and as the running controller's pass."""
    e = env(ctx)
    n = _objects(ctx)
    ms = e.new_set("noop", sw.plan_objects, n)
    config = e.config(ms)
    _ok(sync_once(config), "no-op set-up")
    writes: list[list[str]] = []
    verbs: list[dict[str, int]] = []

    def measured(run: Callable[[], SyncResult]) -> Callable[[], float]:
        def once() -> float:
            seconds, w = noop_pass(e, run, "no-op pass")
            writes.append(
                [f"{x.verb} {x.resource} {x.namespace}/{x.name}" for x in w.writes(user="csops")]
            )
            verbs.append(dict(w.count_by_verb(user="csops")))
            return seconds

        return once

    runs, warmup = ctx.options.runs, ctx.options.warmup
    stats = sample(measured(lambda: sync_once(config)), runs=runs, warmup=warmup)
    looping = controller_pass(ctx, config)
    looped = sample(measured(looping), runs=runs, warmup=max(1, warmup))  # first pass parses
    k = len(stats.values) + len(looped.values)
    counts = Stats([float(len(x)) for x in writes[-k:]])
    ctx.replays[f"{GROUP}.noop"] = lambda: lambda: sync_once(config)
    detail = {**_describe(ms), "requests_by_verb": verbs[-1]}
    return [
        Figure(
            f"{GROUP}.noop",
            f"No-op pass over {n:,} synced objects (`sync_once`, every file parsed)",
            "s",
            stats,
            detail=detail,
        ),
        Figure(
            f"{GROUP}.noop-controller",
            f"No-op pass over {n:,} synced objects as the running controller makes it "
            "(files parsed at its first pass kept)",
            "s",
            looped,
            detail=detail,
        ),
        Figure(
            f"{GROUP}.noop-writes",
            "No-op passes (both): write requests by user csops (create/update/patch/delete, "
            "audit log)",
            "requests",
            counts,
            bar="0 write requests",
            met=counts.max == 0,
            detail={**detail, "writes": [w[:20] for w in writes[-k:]]},
        ),
    ]


@case(GROUP, "prune", "prune of half the objects")
def prune(ctx: Context) -> list[Figure]:
    """Remove ``--sync-prune`` objects from the manifests; time the pass that prunes them."""
    e = env(ctx)
    n, k = _objects(ctx), _prune_count(ctx)
    share = min(1.0, k / n + 0.05)

    def prepared() -> tuple[sw.ManifestSet, Settings]:
        ms = e.new_set("prune", sw.plan_objects, n)
        config = e.config(ms, max_prune_share=share)
        _ok(sync_once(config), "prune set-up")
        sw.remove(ms, k)
        return ms, config

    def once() -> float:
        ms, config = prepared()
        results: list[SyncResult] = []
        seconds = timed(lambda: results.append(sync_once(config)))
        result = _ok(results[0], "prune pass")
        if len(result.pruned) != k:
            raise AssertionError(f"pruned {len(result.pruned)}, expected {k}: {result.summary()}")
        _expect_live(e, ms, "after the prune")
        e.clear(ms)
        return seconds

    stats = sample(once, runs=ctx.options.runs, warmup=ctx.options.warmup)

    def prepare() -> Callable[[], object]:
        _, config = prepared()
        return lambda: sync_once(config)

    ctx.replays[f"{GROUP}.prune"] = prepare
    return [
        Figure(
            f"{GROUP}.prune",
            f"Prune {k:,} of {n:,} objects (removed from the manifests; `max_share` {share:.2f})",
            "s",
            stats,
            detail={"objects": n, "pruned": k, "max_prune_share": share},
        )
    ]


def measure_drift(ctx: Context, e: Env, ms: sw.ManifestSet) -> tuple[Stats, list[float]]:
    """Edit one managed ConfigMap of ``ms`` by hand while the controller runs; the seconds
    until it is restored, and the duration of the controller's full passes meanwhile (a drift
    is put back without one: the list holds the first pass only when none followed)."""
    target = next(i for i in ms.items if i.kind == "ConfigMap")
    wanted = sw.body(target, ms.set_id, ms.rev)["data"]["config.yaml"]
    resource = e.admin.resource("v1", "ConfigMap")
    with Running(e.config(ms)) as running:
        running.wait_quiet(0.0)

        def once() -> float:
            running.wait_idle()
            live = e.admin.get(resource, target.namespace, target.name)
            live["data"]["config.yaml"] = "edited by hand"
            e.admin.replace(resource, live)
            return _poll(
                lambda: (
                    e.admin.get(resource, target.namespace, target.name)["data"]["config.yaml"]
                    == wanted
                ),
                "drift correction",
            )

        stats = sample(once, runs=ctx.options.runs, warmup=ctx.options.warmup)
        pass_seconds = list(running.durations)
    return stats, pass_seconds


@case(GROUP, "drift", "drift on one object corrected (controller with a watch)")
def drift(ctx: Context) -> list[Figure]:
    """Edit one managed ConfigMap by hand while the controller runs; time until restored."""
    e = env(ctx)
    n = _objects(ctx)
    ms = e.new_set("drift", sw.plan_objects, n)
    stats, pass_seconds = measure_drift(ctx, e, ms)
    e.clear(ms)
    return [
        Figure(
            f"{GROUP}.drift",
            f"Drift on one ConfigMap (hand edit) corrected, controller running with a watch, "
            f"{n:,} managed objects",
            "s",
            stats,
            bar=f"≤ {DRIFT_BAR_S:.0f} s",
            met=stats.median <= DRIFT_BAR_S,
            detail={
                **_describe(ms),
                "poll_interval_s": POLL_S,
                "full_passes": len(pass_seconds),
                "full_pass_s": Stats(pass_seconds).to_json() if pass_seconds else None,
            },
        )
    ]


@case(GROUP, "latency", "commit-to-converged, local path")
def latency(ctx: Context) -> list[Figure]:
    """The controller watches a local directory; a new revision of N changed objects."""
    e = env(ctx)
    n = _latency_objects(ctx)
    ms = e.new_set("latency", sw.plan_objects, n)
    write_seconds: list[float] = []

    def converged(rev: int) -> Callable[[], bool]:
        def check() -> bool:
            live = e.live(ms)
            current = [
                o
                for o in live
                if ((o.get("metadata") or {}).get("annotations") or {}).get(sw.REV_ANNOTATION)
                == str(rev)
            ]
            return len(current) == len(ms.items)

        return check

    with Running(e.config(ms)) as running:
        running.wait_quiet(0.0)
        settled = [0.0]

        def once() -> float:
            running.wait_quiet(settled[0])
            # the pass a rewrite causes can end before the poll below sees its objects, so
            # the next run waits for a pass that ended after this rewrite, not after the poll
            settled[0] = time.monotonic()
            start = time.perf_counter()
            rev = sw.rewrite(ms)
            write_seconds.append(time.perf_counter() - start)
            _poll(converged(rev), "commit to converged")
            return time.perf_counter() - start

        stats = sample(once, runs=ctx.options.runs, warmup=ctx.options.warmup)
    e.clear(ms)
    k = len(stats.values)
    return [
        Figure(
            f"{GROUP}.latency",
            f"Commit to converged, {n} changed objects from a local path (watchdog), "
            "controller running",
            "s",
            stats,
            bar=f"< {LATENCY_BAR_S:.0f} s",
            met=stats.median < LATENCY_BAR_S,
            detail={
                **_describe(ms),
                "write_revision_s": Stats(write_seconds[-k:]).to_json(),
                "poll_interval_s": POLL_S,
            },
        )
    ]


def _child_case(
    ctx: Context, prefix: str, plan: Callable[[int, list[str]], list[sw.Item]], size: int
) -> tuple[Stats, Stats, dict[str, Any]]:
    """First sync of a set by ``csops sync --once`` in a child process: wall time, peak RSS."""
    e = env(ctx)
    rss: list[float] = []
    shape: dict[str, Any] = {}

    def once() -> float:
        ms = e.new_set(prefix, plan, size)
        run = _checked(run_child(csops_argv(e, ms), ms.root / "csops.log"), "csops sync --once")
        _expect_live(e, ms, f"{prefix} first sync")
        shape.update(_describe(ms))
        e.clear(ms)
        rss.append(run.maxrss_mib)
        return run.seconds

    wall = sample(once, runs=ctx.options.runs, warmup=0)

    def prepare() -> Callable[[], object]:
        config = e.config(e.new_set(f"{prefix}-profile", plan, size))
        return lambda: sync_once(config)

    ctx.replays[f"{GROUP}.{prefix}"] = prepare
    return wall, Stats(rss), shape


@case(GROUP, "rss", "peak RSS with 5,000 managed objects")
def peak_rss(ctx: Context) -> list[Figure]:
    """``csops sync --once`` on 5,000 objects in a child process: peak RSS and wall time."""
    n = _rss_objects(ctx)
    wall, rss, shape = _child_case(ctx, "rss", sw.plan_objects, n)
    rss_detail = {**shape, "wall_s": wall.to_json()}
    rss_fig = Figure(
        f"{GROUP}.rss-mem",
        f"Peak RSS of `csops sync --once`, first sync of {n:,} objects (child process, "
        "`wait4` ru_maxrss)",
        "MiB",
        rss,
        bar=f"< {RSS_BAR_MIB:.0f} MiB",
        met=rss.max < RSS_BAR_MIB,
        detail=rss_detail,
    )
    wall_fig = Figure(
        f"{GROUP}.rss",
        f"Wall time of that `csops sync --once`, {n:,} objects (fresh process)",
        "s",
        wall,
        detail=shape,
    )
    return [rss_fig, wall_fig]
