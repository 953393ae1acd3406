"""Addon fan-out: ``csops addons --once`` bringing the addons of 10, 25 and 50 Clusters to
Ready, at 1, 4 and 16 workers (``--addon-workers``).

The group starts its own planes (stopped by PID when the harness run ends):

- a management plane (etcd + kube-apiserver) with the real Cluster API (core, kubeadm,
  CAPD, whose webhooks validate every Cluster), the ClusterAddon CRD and, per size N, a
  namespace ``fanout-N`` holding N paused Clusters of the example stacks' classes, alternately
  ``docker-alder-1-29-v1`` (one chart) and ``openstack-birch-1-31-v1`` (three staged charts),
  marked control-plane-ready, each with a ``<name>-kubeconfig`` Secret; and an empty
  namespace ``fanout-0`` (start-up and one empty list: the fixed cost);
- a few workload planes (default 3); Cluster *i*'s Secret points at plane *i mod K*.

The addon path writes each chart's objects by their chart names, namespaced ones into
``kube-system`` (or the chart's namespace), cluster-scoped ones as they are. Clusters that
share a workload plane therefore write the same objects; their values carry the cluster's
name, so every cluster's apply is a real write (the last writer's values stay). What each
cluster costs the controller (Secret, discovery, renders, applies, status) is the same as in a
fleet with one API server per cluster; the API-server side is more loaded here than there.

One measured run per size: the namespace's ClusterAddons and the workload planes' addon
objects are deleted (untimed), then ``csops addons --once --namespace fanout-N`` runs as a
child process (``bench.childrss``): wall time until it exits, which it does after one pass
with exit code 0 only when every cluster's addons are Ready; the harness then checks that N
ClusterAddons are Ready. The sizes run in a rotated order, run by run. Figures per worker
count: the wall time and the controller's peak RSS at each size, the time per cluster
``(T(N) - T(0)) / N`` at the smallest and largest size, and their ratio (DESIGN §8: time
growing no faster than linearly, i.e. a ratio ≤ 1).
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import sync_cases as sc
from bench.registry import Context, Figure, Stats, case, sample
from csops.controlplane.clusterapi import ClusterApi
from csops.controlplane.clusters import Clusters, remove_owned
from csops.controlplane.crds import install_crds, load_crds
from csops.controlplane.server import ControlPlane, close_api_client
from csops.syncer.kube import Kube

GROUP = "fanout"
RENDERED = Path(__file__).resolve().parent.parent / "stacks" / "rendered"
RELEASES = RENDERED / "releases"
MANIFESTS = RENDERED / "manifests"
ADDON_CRD = MANIFESTS / "crds" / "clusteraddons.clusterstack.x-k8s.io.yaml"
CLASSES = (("docker-alder-1-29-v1", "v1.29.4"), ("openstack-birch-1-31-v1", "v1.31.6"))
ADDON = ("clusterstack.x-k8s.io/v1alpha1", "ClusterAddon")
WORKERS = (1, 4, 16)
LINEAR_BAR = 1.0


def _sizes(ctx: Context) -> tuple[int, ...]:
    """Cluster counts: 0 (the fixed cost), a fifth, half and all of ``--fanout-clusters``; at
    least 2, so that the smallest size has a cluster of each class."""
    top = max(2, ctx.options.size("fanout_clusters", 50, 4))
    return tuple(sorted({0, max(2, top // 5), max(2, top // 2), top}))


def _planes(ctx: Context) -> int:
    return ctx.options.size("fanout_planes", 3, 1)


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


@dataclass
class FanoutEnv:
    """The management plane (with Cluster API), the workload planes, one namespace per size."""

    plane: ControlPlane
    admin: Kube
    csops_kubeconfig: Path
    workloads: list[Kube]
    namespaces: dict[int, str]
    scratch: Path
    runs: itertools.count[int] = field(default_factory=itertools.count)

    def reset(self, namespace: str) -> None:
        """No ClusterAddon in ``namespace``, no addon object on any workload plane."""
        resource = self.admin.resource(*ADDON)
        for item in self.admin.list(resource, namespace=namespace).items:
            self.admin.delete(resource, namespace, item["metadata"]["name"])
        for kube in self.workloads:
            remove_owned(kube)

    def ready(self, namespace: str) -> int:
        """How many ClusterAddons of ``namespace`` say Ready."""
        items = self.admin.list(self.admin.resource(*ADDON), namespace=namespace).items
        return sum(bool((i.get("status") or {}).get("ready")) for i in items)

    def argv(self, namespace: str, workers: int) -> list[str]:
        """One addon pass over the namespace's Clusters, as a user runs it."""
        return [
            str(sc.BIN / "csops"),
            "addons",
            "--releases",
            str(RELEASES),
            "--kubeconfig",
            str(self.csops_kubeconfig),
            "--namespace",
            namespace,
            "--once",
            "--addon-workers",
            str(workers),
            "--log-format",
            "json",
        ]


def _start_plane(ctx: Context, name: str) -> ControlPlane:
    plane = ControlPlane(ctx.tempdir(f"{name}-"), name=name, controller_manager=False)
    ctx.on_close(plane.stop)
    plane.start()
    return plane


def env(ctx: Context) -> FanoutEnv:
    """The planes and Clusters of this harness run (built on first use, stopped at the end)."""

    def build() -> FanoutEnv:
        ctx.log("fanout: starting the management plane and Cluster API …")
        plane = _start_plane(ctx, "fanout-mgmt")
        capi = ClusterApi(plane)
        ctx.on_close(capi.stop)
        capi.start()
        client = plane.api_client()
        try:
            install_crds(client, load_crds([ADDON_CRD]))
        finally:
            close_api_client(client)
        admin = Kube.from_kubeconfig(plane.kubeconfig_path, field_manager="bench")
        ctx.on_close(admin.close)
        count = _planes(ctx)
        ctx.log(f"fanout: starting {count} workload plane(s) …")
        secrets, workloads = [], []
        for i in range(count):
            workload = _start_plane(ctx, f"fanout-wl{i}")
            secrets.append(workload.kubeconfig_path.read_bytes())
            kube = Kube.from_kubeconfig(workload.kubeconfig_path, field_manager="bench")
            ctx.on_close(kube.close)
            workloads.append(kube)
        namespaces = {}
        for size in _sizes(ctx):
            namespaces[size] = _clusters(admin, f"fanout-{size}", size, secrets)
            ctx.log(f"fanout: {size} Clusters in namespace fanout-{size}")
        return FanoutEnv(
            plane,
            admin,
            plane.kubeconfig_for("csops"),
            workloads,
            namespaces,
            ctx.tempdir("fanout-"),
        )

    return ctx.once("fanout.env", build)


def _clusters(admin: Kube, namespace: str, count: int, kubeconfigs: list[bytes]) -> str:
    """``count`` Clusters in a new namespace, Cluster *i* on workload plane *i mod K*."""
    admin.create(
        sc.NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    )
    clusters = Clusters(admin, namespace, kubeconfigs[0], MANIFESTS)
    for i in range(count):
        class_name, version = CLASSES[i % len(CLASSES)]
        kubeconfig = kubeconfigs[i % len(kubeconfigs)]
        clusters.create(f"c{i:03d}", class_name, version, kubeconfig=kubeconfig)
    return namespace


@dataclass
class _Run:
    seconds: float
    maxrss_mib: float


def _run(e: FanoutEnv, size: int, workers: int) -> _Run:
    """Reset, then one ``csops addons --once`` over ``size`` Clusters; checks all are Ready."""
    namespace = e.namespaces[size]
    e.reset(namespace)
    log = e.scratch / f"addons-{size}-w{workers}-{next(e.runs)}.log"
    what = f"csops addons --once over {size} Clusters, {workers} workers"
    run = sc.run_child(e.argv(namespace, workers), log)
    ready = e.ready(namespace)
    if run.code != 0 or ready != size:
        complaints = [
            line for line in log.read_text().splitlines() if '"level": "info"' not in line
        ]
        raise AssertionError(
            f"{what}: exit code {run.code}, {ready} of {size} ClusterAddons Ready ({log}):\n"
            + "\n".join(complaints[-20:])
        )
    return _Run(run.seconds, run.maxrss_mib)


def _per_cluster(times: dict[int, list[float]], size: int) -> list[float]:
    """``(T(size) - T(0)) / size`` run by run."""
    return [(t - t0) / size for t, t0 in zip(times[size], times[0], strict=True)]


def _measure(ctx: Context, workers: int) -> list[Figure]:
    e = env(ctx)
    sizes = _sizes(ctx)
    times: dict[int, list[float]] = {n: [] for n in sizes}
    rss: dict[int, list[float]] = {n: [] for n in sizes}
    rounds = itertools.count()
    load_start = _load()

    def once() -> float:
        i = next(rounds)
        order = sizes[i % len(sizes) :] + sizes[: i % len(sizes)]
        for size in order:
            run = _run(e, size, workers)
            times[size].append(run.seconds)
            rss[size].append(run.maxrss_mib)
        return times[sizes[-1]][-1]

    stats = sample(once, runs=ctx.options.runs, warmup=ctx.options.warmup)
    k = len(stats.values)
    times = {n: v[-k:] for n, v in times.items()}
    detail: dict[str, Any] = {
        "workers": workers,
        "workload_planes": len(e.workloads),
        "classes": [c for c, _ in CLASSES],
        "load_start": load_start,
        "load_end": _load(),
    }
    figures: list[Figure] = []
    for size in sizes:
        what = "no Clusters (start-up and one list)" if size == 0 else f"{size} Clusters"
        shape = {**detail, "clusters": size}
        if size == sizes[-1]:
            shape["workload"] = (
                f"up to {size} paused Clusters (alder and birch classes of the example stacks) "
                f"over {len(e.workloads)} workload plane(s), real Cluster API on the management "
                "plane; `csops addons --once` as a fresh process"
            )
        figures += [
            Figure(
                f"{GROUP}.w{workers}-c{size}",
                f"Addons Ready, {what}, {workers} worker(s) (`csops addons --once`, fresh process)",
                "s",
                Stats(times[size]),
                detail=shape,
            ),
            Figure(
                f"{GROUP}.w{workers}-c{size}-mem",
                f"Peak RSS of that controller, {what}, {workers} worker(s) (`wait4` ru_maxrss)",
                "MiB",
                Stats(rss[size][-k:]),
                detail=shape,
            ),
        ]
    small, large = sizes[1], sizes[-1]
    low, high = _per_cluster(times, small), _per_cluster(times, large)
    growth = Stats([h / lo if lo > 0 else float("inf") for h, lo in zip(high, low, strict=True)])
    figures += [
        Figure(
            f"{GROUP}.w{workers}-per-cluster-c{n}",
            f"Time per cluster at {n} Clusters, {workers} worker(s): (T({n}) − T(0)) / {n}",
            "s",
            Stats(values),
            detail={**detail, "clusters": n},
        )
        for n, values in ((small, low), (large, high))
    ]
    figures.append(
        Figure(
            f"{GROUP}.w{workers}-growth",
            f"Growth {small}→{large} Clusters, {workers} worker(s): time per cluster at {large} "
            f"/ at {small}",
            "x",
            growth,
            bar=f"≤ {LINEAR_BAR:.1f} (no faster than linear, DESIGN §8)",
            met=growth.median <= LINEAR_BAR,
            detail=detail,
        )
    )
    return figures


def _register(workers: int) -> None:
    @case(GROUP, f"workers-{workers}", f"addons of 10, 25, 50 Clusters Ready, {workers} worker(s)")
    def run(ctx: Context) -> list[Figure]:
        return _measure(ctx, workers)


for _workers in WORKERS:
    _register(_workers)
