"""Command line of the harness: pick cases, run them, report per group."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import traceback
from collections.abc import Sequence
from pathlib import Path

from bench import profiling, registry, report
from bench.registry import Context, Options

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = REPO_ROOT / "bench" / "results"
QUICK_RESULTS = DEFAULT_RESULTS / "quick"
DEFAULT_DOCS = REPO_ROOT / "docs" / "benchmarks.md"


#: Workload sizes, each ``--flag N`` (``Options.sizes`` key: the flag with ``_`` for ``-``).
SIZE_FLAGS = (
    ("--stacks", "render: stacks in the workload (default 50)"),
    ("--releases", "render: releases per stack (default 3)"),
    ("--sync-objects", "sync: objects of the first-apply, no-op and drift cases (default 1000)"),
    ("--sync-prune", "sync: objects pruned (default half of them)"),
    ("--sync-latency-objects", "sync: objects of the commit-to-converged case (default 100)"),
    ("--sync-rss-objects", "sync: objects of the peak-RSS case (default 5000)"),
    ("--flux-units", "sync: units of 4 objects in Flux's shape (default 1000)"),
    ("--scale-objects", "scale: objects of the scale cases (default 10000)"),
    (
        "--fanout-clusters",
        "fanout: most Clusters (default 50; also a fifth and half of it; quick 4)",
    ),
    ("--fanout-planes", "fanout: workload control planes (default 3, quick 1)"),
)


def parser() -> argparse.ArgumentParser:
    """The argument parser (``python -m bench --help``)."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="csops benchmarks: generate workloads, time each case after a warm-up, "
        "write bench/results/GROUP.json and the tables of docs/benchmarks.md.",
    )
    p.add_argument(
        "--cases",
        default="all",
        help="'all', or a comma list of groups (render) and cases (render.noop); default all",
    )
    p.add_argument("--list", action="store_true", help="list the registered cases and exit")
    p.add_argument("--runs", type=int, help="measured runs per figure (default 5, quick 1)")
    p.add_argument("--warmup", type=int, help="warm-up runs per figure (default 1, quick 0)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and one run (CI smoke); results go to bench/results/quick/ and "
        "docs are not written unless --docs is given",
    )
    for flag, help_text in SIZE_FLAGS:
        p.add_argument(flag, type=int, help=help_text)
    p.add_argument("--results-dir", type=Path, help="where GROUP.json and profiles go")
    p.add_argument("--docs", type=Path, help="Markdown file to update (default docs/benchmarks.md)")
    p.add_argument("--no-docs", action="store_true", help="do not update the Markdown file")
    p.add_argument(
        "--profile",
        default="slowest,render.full,render.noop,sync.first-apply",
        help="cases to profile with pyinstrument, comma list of figure keys and 'slowest' "
        "(the slowest timed case of each group); default %(default)s",
    )
    p.add_argument("--no-profile", action="store_true", help="skip the pyinstrument profiles")
    p.add_argument(
        "--work-dir",
        type=Path,
        help="generate workloads here and keep them (default: a temporary directory, removed)",
    )
    return p


def options_from(args: argparse.Namespace) -> Options:
    """Options from parsed arguments, with the quick-mode defaults applied."""
    quick = bool(args.quick)
    given = {
        flag[2:].replace("-", "_"): getattr(args, flag[2:].replace("-", "_"))
        for flag, _ in SIZE_FLAGS
    }
    sizes = {k: v for k, v in given.items() if v}
    docs: Path | None = args.docs or (None if quick else DEFAULT_DOCS)
    if args.no_docs:
        docs = None
    return Options(
        runs=args.runs if args.runs is not None else (1 if quick else 5),
        warmup=args.warmup if args.warmup is not None else (0 if quick else 1),
        quick=quick,
        profile=()
        if args.no_profile
        else tuple(p.strip() for p in args.profile.split(",") if p.strip()),
        results_dir=args.results_dir or (QUICK_RESULTS if quick else DEFAULT_RESULTS),
        docs=docs,
        work_dir=args.work_dir,
        sizes=sizes,
    )


def run(options: Options, cases: list[registry.Case]) -> int:
    """Run the cases grouped by group; write each group's results. Non-zero if a case failed."""
    failed = False
    if options.work_dir:
        options.work_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="bench-", dir=options.work_dir))
    else:
        scratch = Path(tempfile.mkdtemp(prefix="csops-bench-"))
    info = report.machine()
    ctx = Context(options, scratch, log=lambda m: print(m, file=sys.stderr, flush=True))
    try:
        for group in dict.fromkeys(c.group for c in cases):
            res = report.GroupResult(group, options, info)
            figures, errors = res.figures, res.errors
            medians: dict[str, float] = {}
            for case in (c for c in cases if c.group == group):
                ctx.log(f"{group}.{case.name}: {case.title} …")
                try:
                    got = case.run(ctx)
                except Exception as exc:
                    failed = True
                    errors.append(f"{group}.{case.name}: {type(exc).__name__}: {exc}")
                    traceback.print_exc()
                    continue
                for fig in got:
                    ctx.log(
                        f"  {fig.key}: {report.fmt(fig.stats.median, fig.unit)} "
                        f"[{report.fmt(fig.stats.min, fig.unit)} – "
                        f"{report.fmt(fig.stats.max, fig.unit)}]"
                        + ("" if fig.met is None else f"  bar {fig.bar}: ")
                        + ("" if fig.met is None else ("met" if fig.met else "NOT MET"))
                    )
                    if fig.unit == "s" and fig.key in ctx.replays:
                        medians[fig.key] = fig.stats.median
                figures.extend(got)
            slowest = max(medians, key=lambda k: medians[k]) if medians else None
            wanted = [slowest if p == "slowest" else p for p in options.profile]
            mine = [k for k in wanted if k in ctx.replays and k.startswith(f"{group}.")]
            for key in dict.fromkeys(mine):
                ctx.log(f"{group}: profiling {key} …")
                prof = profiling.profile(
                    key, ctx.replays[key], options.results_dir, f"{key}-profile"
                )
                prof["slowest"] = key == slowest
                res.profiles.append(prof)
            report.write_json(options.results_dir / f"{group}.json", res)
            if options.docs is not None:
                report.update_doc(options.docs, group, report.section(res))
            print(report.machine_lines(info) + "\n")
            peers = report.side_by_side(group, figures)
            if peers:
                print(peers + "\n")
            print(report.table(figures))
    finally:
        ctx.close()
        if options.work_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bench``."""
    args = parser().parse_args(argv)
    if args.list:
        for key, case in registry.load_cases().items():
            print(f"{key:28} {case.title}")
        return 0
    try:
        cases = registry.select(args.cases)
    except ValueError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    return run(options_from(args), cases)
