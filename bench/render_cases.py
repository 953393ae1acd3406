"""Render cases: the renderer bars of DESIGN.md §8 on a synthetic stacks repository.

Longer than our modules usually are, on purpose: it is a catalogue, one self-contained case
per bar, read case by case.

- ``render.full``: every offered release through Helm (``full=True``) with ``manifests/``
  removed, then written: the cost of rendering the repository from scratch.
- ``render.noop``: a re-render of the committed repository that changes nothing
  (bar: ≤ 0.5 s at 50 stacks, 3 releases each).
- ``render.one-stack``: one stack source changed (a new release cut and offered): only that
  stack may go through Helm (bar), checked by recording every Helm call.
- ``render.one-clusterstack``: one ClusterStack moved to another namespace: only its
  releases may go through Helm again.
- ``render.overhead``: csops's full render against the bare Helm render of the same class
  charts (``helm_python`` called directly), interleaved run by run (bar: overhead ≤ 1.0,
  that is csops at most twice Helm's time).
- ``render.rss``: peak RSS of a full render in a fresh interpreter.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import workloads
from bench.registry import Context, Figure, Stats, case, sample, timed
from csops import renderer
from csops.renderer import helm as renderer_helm

GROUP = "render"
FULL_STACKS, FULL_RELEASES = 50, 3
QUICK_STACKS, QUICK_RELEASES = 3, 2
NOOP_BAR_S = 0.5
OVERHEAD_BAR = 1.0
ONE_STACK_BAR_S = 0.3


def _sizes(ctx: Context) -> tuple[int, int]:
    o = ctx.options
    return (
        o.size("stacks", FULL_STACKS, QUICK_STACKS),
        o.size("releases", FULL_RELEASES, QUICK_RELEASES),
    )


def workload(ctx: Context) -> workloads.Workload:
    """The shared workload of this harness run (generated on first use)."""

    def build() -> workloads.Workload:
        stacks, releases = _sizes(ctx)
        ctx.log(f"render: generating {stacks} stacks × {releases} releases …")
        wl = workloads.generate(ctx.tempdir("workload-") / "repo", stacks, releases)
        ctx.log(
            f"render: workload ready in {wl.generate_seconds:.1f} s "
            f"({wl.objects} manifests, {wl.files} rendered files)"
        )
        return wl

    return ctx.once("render.workload", build)


def _shape(wl: workloads.Workload) -> dict[str, Any]:
    return {
        "stacks": len(wl.stacks),
        "releases_per_stack": wl.releases,
        "class_renders": len(wl.stacks) * wl.releases,
        "manifests": wl.objects,
        "rendered_files": wl.files,
    }


# --- Helm call recording -------------------------------------------------------------------


@dataclass
class HelmCalls:
    """Every ``renderer.helm.render_chart`` call of a render: (release name, chart dir)."""

    calls: list[tuple[str, Path]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def class_releases(self) -> list[str]:
        """Helm release names of the cluster-class charts rendered."""
        return [name for name, chart in self.calls if chart.name == "cluster-class"]

    @property
    def addon_charts(self) -> list[Path]:
        """Addon charts rendered (the checks of a new release)."""
        return [chart for _, chart in self.calls if chart.name != "cluster-class"]


@contextlib.contextmanager
def record_helm() -> Iterator[HelmCalls]:
    """Record the charts the renderer sends through Helm (wraps the Helm adapter)."""
    calls = HelmCalls()
    original = renderer_helm.render_chart

    def wrapper(chart_dir: Path, **kwargs: Any) -> list[renderer_helm.RenderedFile]:
        calls.calls.append((str(kwargs.get("release_name")), Path(chart_dir)))
        start = time.perf_counter()
        try:
            return original(chart_dir, **kwargs)
        finally:
            calls.seconds += time.perf_counter() - start

    renderer_helm.render_chart = wrapper
    try:
        yield calls
    finally:
        renderer_helm.render_chart = original


# --- the measured operations ---------------------------------------------------------------


@dataclass
class RenderRun:
    """One render + write: timings of both phases and what the render did."""

    render_s: float
    write_s: float
    helm_renders: int
    written: bool
    new_releases: list[str]

    @property
    def total_s(self) -> float:
        """Render plus write."""
        return self.render_s + self.write_s


def render_and_write(root: Path, *, full: bool = False) -> RenderRun:
    """``csops render``: render the repository, then write the tree if it changed."""
    result: list[renderer.RenderResult] = []
    render_s = timed(lambda: result.append(renderer.render_repo(root, full=full)))
    written: list[bool] = []
    write_s = timed(lambda: written.append(renderer.write(result[0])))
    return RenderRun(
        render_s, write_s, result[0].helm_renders, written[0], list(result[0].new_releases)
    )


def _fresh_for_full(ctx: Context) -> workloads.Workload:
    """A copy of the workload without ``manifests/`` (release bundles and lock kept)."""
    wl = workloads.clone(workload(ctx), ctx.tempdir("full-") / "repo")
    shutil.rmtree(wl.output_dir / "manifests")
    return wl


def bare_helm(charts: list[tuple[workloads.StackSpec, str, Path]], namespace: str) -> float:
    """Render every class chart with ``helm_python`` directly, as CSO would; seconds."""
    from helm_python import Chart, _native

    total = 0.0
    for spec, _release, chart_dir in charts:
        opts = json.dumps(
            {"name": spec.prefix, "namespace": namespace, "kube_version": spec.kubernetes}
        )
        start = time.perf_counter()
        chart = Chart.load(chart_dir)
        try:
            raw = _native.call_string("helm_render", chart._raw(), None, opts)
        finally:
            chart.close()
        json.loads(raw)
        total += time.perf_counter() - start
    return total


def _cleanup(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)


# --- cases ---------------------------------------------------------------------------------


@case(GROUP, "full", "full render from scratch")
def full_render(ctx: Context) -> list[Figure]:
    """Every offered release through Helm with ``manifests/`` removed, then written."""
    wl = workload(ctx)
    runs: list[RenderRun] = []

    def once() -> float:
        fresh = _fresh_for_full(ctx)
        try:
            run = render_and_write(fresh.root, full=True)
        finally:
            _cleanup(fresh.root)
        expected = len(wl.stacks) * wl.releases
        if run.helm_renders != expected or not run.written:
            raise AssertionError(
                f"full render: {run.helm_renders} class renders (expected {expected}), "
                f"written={run.written}"
            )
        runs.append(run)
        return run.total_s

    stats = sample(once, runs=ctx.options.runs, warmup=ctx.options.warmup)
    measured = runs[-len(stats.values) :]

    def prepare() -> Callable[[], object]:
        fresh = _fresh_for_full(ctx)
        return lambda: render_and_write(fresh.root, full=True)

    ctx.replays[f"{GROUP}.full"] = prepare
    ctx.shared["render.full.stats"] = stats
    return [
        Figure(
            f"{GROUP}.full",
            f"Full render, {len(wl.stacks)} stacks × {wl.releases} releases "
            "(`full=True`, from an empty `manifests/`), render + write",
            "s",
            stats,
            detail={
                **_shape(wl),
                "render_s": Stats([r.render_s for r in measured]).to_json(),
                "write_s": Stats([r.write_s for r in measured]).to_json(),
            },
        )
    ]


@case(GROUP, "noop", "no-op re-render")
def noop_render(ctx: Context) -> list[Figure]:
    """Re-render the committed repository: nothing goes through Helm, nothing is written."""
    wl = workload(ctx)

    def once() -> float:
        run = render_and_write(wl.root)
        if run.helm_renders or run.written or run.new_releases:
            raise AssertionError(
                f"no-op render did work: {run.helm_renders} Helm renders, "
                f"written={run.written}, new releases {run.new_releases}"
            )
        return run.total_s

    stats = sample(once, runs=ctx.options.runs, warmup=ctx.options.warmup)
    ctx.replays[f"{GROUP}.noop"] = lambda: lambda: render_and_write(wl.root)
    return [
        Figure(
            f"{GROUP}.noop",
            f"No-op re-render, {len(wl.stacks)} stacks × {wl.releases} releases",
            "s",
            stats,
            bar=f"≤ {NOOP_BAR_S} s",
            met=stats.median <= NOOP_BAR_S,
            detail=_shape(wl),
        )
    ]


def _change_one_stack(wl: workloads.Workload) -> workloads.StackSpec:
    spec = wl.stacks[0]
    workloads.change_stack(wl.root, spec, "bench")
    workloads.write_cluster_stack(wl.root, spec, wl.releases + 1)
    workloads.commit(wl.root, f"change {spec.prefix}")
    return spec


def _move_one_cluster_stack(wl: workloads.Workload) -> workloads.StackSpec:
    spec = wl.stacks[-1]
    workloads.write_cluster_stack(wl.root, spec, wl.releases, namespace="bench-moved")
    workloads.commit(wl.root, f"move {spec.prefix}")
    return spec


def _incremental_case(
    ctx: Context,
    name: str,
    title: str,
    change: Callable[[workloads.Workload], workloads.StackSpec],
    expected_class_renders: Callable[[workloads.Workload], int],
) -> list[Figure]:
    wl = workload(ctx)
    observed: list[dict[str, Any]] = []
    violations: list[str] = []
    beyond_helm: list[float] = []

    def prepared() -> tuple[workloads.Workload, workloads.StackSpec]:
        fresh = workloads.clone(wl, ctx.tempdir(f"{name}-") / "repo")
        return fresh, change(fresh)

    def once() -> float:
        fresh, spec = prepared()
        try:
            with record_helm() as calls:
                run = render_and_write(fresh.root)
        finally:
            _cleanup(fresh.root)
        others = sorted({r for r in calls.class_releases if r != spec.prefix})
        foreign_addons = sorted(
            {str(p) for p in calls.addon_charts if f"/{spec.prefix}-v" not in str(p)}
        )
        expected = expected_class_renders(wl)
        if others or foreign_addons:
            violations.append(f"other stacks went through Helm: {others + foreign_addons}")
        if run.helm_renders != expected or len(calls.class_releases) != expected:
            violations.append(
                f"{run.helm_renders} class renders counted, {len(calls.class_releases)} "
                f"recorded; expected {expected} (all of {spec.prefix})"
            )
        beyond_helm.append(run.total_s - calls.seconds)
        observed.append(
            {
                "stack": spec.prefix,
                "helm_s": calls.seconds,
                "helm_renders": run.helm_renders,
                "class_charts": sorted(set(calls.class_releases)),
                "addon_chart_renders": len(calls.addon_charts),
                "new_releases": run.new_releases,
                "written": run.written,
            }
        )
        return run.total_s

    stats = sample(once, runs=ctx.options.runs, warmup=ctx.options.warmup)

    def prepare() -> Callable[[], object]:
        fresh, _ = prepared()
        return lambda: render_and_write(fresh.root)

    ctx.replays[f"{GROUP}.{name}"] = prepare
    beyond = Stats(beyond_helm[-len(stats.values) :])
    return [
        Figure(
            f"{GROUP}.{name}",
            title,
            "s",
            stats,
            bar="only that stack goes through Helm",
            met=not violations,
            detail={**_shape(wl), "observed": observed[-1], "violations": violations},
        ),
        Figure(
            f"{GROUP}.{name}-beyond-helm",
            f"{title}: time beyond its own Helm renders",
            "s",
            beyond,
            bar=f"≤ {ONE_STACK_BAR_S} s + its Helm time",
            met=beyond.median <= ONE_STACK_BAR_S,
            detail=_shape(wl),
        ),
    ]


@case(GROUP, "one-stack", "one stack source changed")
def one_stack(ctx: Context) -> list[Figure]:
    """One stack source changed and its new release offered: one class render, that stack's."""
    return _incremental_case(
        ctx,
        "one-stack",
        "One stack source changed (new release cut and offered), render + write",
        _change_one_stack,
        lambda wl: 1,
    )


@case(GROUP, "one-clusterstack", "one ClusterStack moved to another namespace")
def one_cluster_stack(ctx: Context) -> list[Figure]:
    """One ClusterStack moved: its releases, and only those, are rendered again."""
    return _incremental_case(
        ctx,
        "one-clusterstack",
        "One ClusterStack moved to another namespace (its releases re-rendered), render + write",
        _move_one_cluster_stack,
        lambda wl: wl.releases,
    )


@case(GROUP, "overhead", "csops time over bare Helm time")
def overhead(ctx: Context) -> list[Figure]:
    """csops full render against ``helm_python`` on the same class charts, run by run."""
    wl = workload(ctx)
    charts = wl.class_charts()
    helm_times: list[float] = []
    csops_times: list[float] = []
    csops_render_times: list[float] = []

    def once() -> float:
        helm_s = bare_helm(charts, workloads.NAMESPACE)
        fresh = _fresh_for_full(ctx)
        try:
            run = render_and_write(fresh.root, full=True)
        finally:
            _cleanup(fresh.root)
        helm_times.append(helm_s)
        csops_times.append(run.total_s)
        csops_render_times.append(run.render_s)
        return (run.total_s - helm_s) / helm_s

    stats = sample(once, runs=ctx.options.runs, warmup=ctx.options.warmup)
    n = len(stats.values)
    helm_stats = Stats(helm_times[-n:])
    csops_stats = Stats(csops_times[-n:])
    render_only = Stats(
        [(c - h) / h for c, h in zip(csops_render_times[-n:], helm_times[-n:], strict=True)]
    )
    shape = _shape(wl)
    return [
        Figure(
            f"{GROUP}.helm",
            f"Bare Helm render of the same {len(charts)} class charts (`helm_python` direct)",
            "s",
            helm_stats,
            detail=shape,
        ),
        Figure(
            f"{GROUP}.overhead",
            "csops overhead over bare Helm: (csops full render + write − Helm) / Helm",
            "ratio",
            stats,
            bar=f"≤ {OVERHEAD_BAR:.1f} (csops ≤ 2× Helm)",
            met=stats.median <= OVERHEAD_BAR,
            detail={
                **shape,
                "csops_s": csops_stats.to_json(),
                "helm_s": helm_stats.to_json(),
                "ratio_csops_over_helm": csops_stats.median / helm_stats.median,
                "overhead_render_only": render_only.to_json(),
            },
        ),
        Figure(
            f"{GROUP}.overhead-render-only",
            "csops overhead over bare Helm, render phase only (without writing the tree)",
            "ratio",
            render_only,
            detail=shape,
        ),
    ]


@case(GROUP, "rss", "peak RSS of a full render")
def peak_rss(ctx: Context) -> list[Figure]:
    """A full render + write in a fresh interpreter; its ru_maxrss (and after imports)."""
    wl = workload(ctx)
    baselines: list[float] = []

    def once() -> float:
        fresh = _fresh_for_full(ctx)
        try:
            out = subprocess.run(
                [sys.executable, "-m", "bench.rss", str(fresh.root)],
                check=True,
                capture_output=True,
                text=True,
                cwd=workloads.REPO_ROOT,
            )
        finally:
            _cleanup(fresh.root)
        data = json.loads(out.stdout.strip().splitlines()[-1])
        baselines.append(data["baseline_kib"] / 1024)
        return float(data["maxrss_kib"]) / 1024

    stats = sample(once, runs=ctx.options.runs, warmup=0)
    return [
        Figure(
            f"{GROUP}.rss",
            f"Peak RSS of a full render + write, {len(wl.stacks)} stacks × {wl.releases} "
            "releases (fresh process)",
            "MiB",
            stats,
            detail={**_shape(wl), "after_imports_mib": Stats(baselines).to_json()},
        )
    ]
