"""Scale: the syncer at 10,000 objects on the sync group's control plane.

- ``scale.first-apply``: ``csops sync --once`` as a fresh process on N objects (default
  10,000): wall time and peak RSS (bar ≤ 250 MiB);
- ``scale.noop``: a pass over that synced set (in-process): wall time and write requests by
  user csops in the audit log (bar: zero);
- ``scale.drift``: the controller runs with the set; one ConfigMap edited by hand; seconds
  until it is restored (bar ≤ 1 s), with the controller's full passes meanwhile beside it
  (the drift is put back alone, without a pass: one full pass, the first, is expected).
"""

from __future__ import annotations

from collections.abc import Callable

from bench import sync_cases as sc
from bench import sync_workloads as sw
from bench.registry import Context, Figure, Stats, case, sample
from csops.syncer.controller import sync_once
from csops.syncer.reconcile import SyncResult

GROUP = "scale"
RSS_BAR_MIB = 250.0
DRIFT_BAR_S = 1.0


def _objects(ctx: Context) -> int:
    return ctx.options.size("scale_objects", 10_000, 60)


def _synced(ctx: Context) -> sw.ManifestSet:
    """One set of N objects, synced once (untimed), shared by the no-op and drift cases."""

    def build() -> sw.ManifestSet:
        e = sc.env(ctx)
        ms = e.new_set("scale", sw.plan_objects, _objects(ctx))
        sc._ok(sync_once(e.config(ms)), "scale set-up")
        ctx.on_close(lambda: e.clear(ms))
        return ms

    return ctx.once("scale.synced", build)


@case(GROUP, "first-apply", "first sync of 10,000 objects by a fresh process, with peak RSS")
def first_apply(ctx: Context) -> list[Figure]:
    e = sc.env(ctx)
    n = _objects(ctx)
    rss: list[float] = []

    def once() -> float:
        ms = e.new_set("scale-fa", sw.plan_objects, n)
        run = sc._checked(
            sc.run_child(sc.csops_argv(e, ms), ms.root / "csops.log"), "csops sync --once"
        )
        sc._expect_live(e, ms, "scale first apply")
        rss.append(run.maxrss_mib)
        e.clear(ms)
        return run.seconds

    wall = sample(once, runs=ctx.options.runs, warmup=0)
    memory = Stats(rss)
    detail = {"objects": n}
    return [
        Figure(
            f"{GROUP}.first-apply",
            f"First sync of {n:,} objects, `csops sync --once` (fresh process)",
            "s",
            wall,
            detail=detail,
        ),
        Figure(
            f"{GROUP}.first-apply-mem",
            f"Peak RSS of that sync, {n:,} objects (`wait4` ru_maxrss)",
            "MiB",
            memory,
            bar=f"≤ {RSS_BAR_MIB:.0f} MiB",
            met=memory.max <= RSS_BAR_MIB,
            detail=detail,
        ),
    ]


@case(GROUP, "noop", "no-op pass over 10,000 synced objects: wall time and writes")
def noop(ctx: Context) -> list[Figure]:
    e = sc.env(ctx)
    ms = _synced(ctx)
    config = e.config(ms)
    writes: list[float] = []

    def measured(run: Callable[[], SyncResult]) -> Callable[[], float]:
        def once() -> float:
            seconds, w = sc.noop_pass(e, run, "scale no-op")
            writes.append(float(len(w.writes(user="csops"))))
            return seconds

        return once

    runs, warmup = ctx.options.runs, ctx.options.warmup
    stats = sample(measured(lambda: sync_once(config)), runs=runs, warmup=warmup)
    looped = sample(measured(sc.controller_pass(ctx, config)), runs=runs, warmup=max(1, warmup))
    counts = Stats(writes[-(len(stats.values) + len(looped.values)) :])
    detail = {"objects": len(ms.items)}
    return [
        Figure(
            f"{GROUP}.noop",
            f"No-op pass over {len(ms.items):,} synced objects (`sync_once`, every file parsed)",
            "s",
            stats,
            detail=detail,
        ),
        Figure(
            f"{GROUP}.noop-controller",
            f"No-op pass over {len(ms.items):,} synced objects as the running controller makes "
            "it (files parsed at its first pass kept)",
            "s",
            looped,
            detail=detail,
        ),
        Figure(
            f"{GROUP}.noop-writes",
            "Those passes: write requests by user csops (audit log)",
            "requests",
            counts,
            bar="0 write requests",
            met=counts.max == 0,
            detail=detail,
        ),
    ]


@case(GROUP, "drift", "drift on one of 10,000 objects corrected")
def drift(ctx: Context) -> list[Figure]:
    e = sc.env(ctx)
    ms = _synced(ctx)
    stats, passes = sc.measure_drift(ctx, e, ms)
    return [
        Figure(
            f"{GROUP}.drift",
            f"Drift on one ConfigMap corrected, controller running, {len(ms.items):,} managed "
            "objects",
            "s",
            stats,
            bar=f"≤ {DRIFT_BAR_S:.0f} s, cost proportional to the change",
            met=stats.median <= DRIFT_BAR_S,
            detail={
                "objects": len(ms.items),
                "full_passes": len(passes),
                "full_pass_s": Stats(passes).to_json() if passes else None,
            },
        )
    ]
