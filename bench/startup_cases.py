"""Start-up cases: how long a fresh ``csops`` process takes before it does any work.

Every run starts a new interpreter, so the figures include Python's own start-up, which
``startup.python`` measures alone for comparison.

- ``startup.version`` and ``startup.help``: ``csops --version`` and ``csops --help``. Bar
  (DESIGN.md §8): neither imports the Kubernetes client, Helm or CEL; checked in the same
  process that is timed, from its ``sys.modules`` at exit.
- ``startup.render-help`` and ``startup.sync-help``: ``csops render --help`` and
  ``csops sync --help``, the cost of loading a command's libraries (context, no bar).
- ``startup.python``: ``python -c pass`` with the same interpreter (context).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

from bench.registry import Context, Figure, case, sample

GROUP = "startup"
HEAVY = ("kubernetes", "helm_python", "celpy")
BAR = "no Kubernetes client, Helm or CEL imported"

#: Runs the console entry point, then reports the exit code and the top-level modules loaded.
PROBE = """
import json, sys
from csops.cli import main
sys.argv = ["csops", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.stdout.flush()
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}),
      file=sys.stderr)
"""

_IMPORTTIME = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)$")


def start(args: list[str], env_flags: tuple[str, ...] = ()) -> tuple[float, dict[str, object]]:
    """Wall seconds of one fresh ``csops ARGS`` process and what it reported."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *env_flags, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.perf_counter() - started
    report = json.loads(done.stderr.strip().splitlines()[-1])
    if report["code"] != 0:
        raise RuntimeError(f"csops {' '.join(args)} exited {report['code']}: {done.stderr[-2000:]}")
    return elapsed, report


def _slowest_imports(args: list[str], limit: int = 5) -> list[dict[str, object]]:
    """The top-level imports with the largest cumulative time (``python -X importtime``)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    rows = []
    for line in done.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match and not match.group(2):  # a top-level import, not one nested in another
            rows.append({"module": match.group(3), "ms": int(match.group(1)) / 1000})
    rows.sort(key=lambda r: -float(r["ms"]))
    return rows[:limit]


def _measure(ctx: Context, key: str, title: str, args: list[str], *, bar: bool) -> Figure:
    loaded: list[set[str]] = []

    def run() -> float:
        elapsed, report = start(args)
        loaded.append(set(report["modules"]))  # type: ignore[call-overload]
        return elapsed

    stats = sample(run, runs=ctx.options.runs, warmup=ctx.options.warmup)
    heavy = sorted(set().union(*loaded) & set(HEAVY))
    return Figure(
        key,
        title,
        "s",
        stats,
        bar=BAR if bar else "",
        met=(not heavy) if bar else None,
        detail={
            "workload": "a fresh interpreter per run",
            "command": ["csops", *args],
            "heavy_imported": heavy,
            "slowest_imports": _slowest_imports(args) if bar else [],
        },
    )


@case(GROUP, "version", "csops --version in a fresh process")
def version(ctx: Context) -> list[Figure]:
    """``csops --version``."""
    return [_measure(ctx, "startup.version", "csops --version", ["--version"], bar=True)]


@case(GROUP, "help", "csops --help in a fresh process")
def help_(ctx: Context) -> list[Figure]:
    """``csops --help``."""
    return [_measure(ctx, "startup.help", "csops --help", ["--help"], bar=True)]


@case(GROUP, "commands", "a command's --help: the cost of loading its libraries")
def commands(ctx: Context) -> list[Figure]:
    """``csops render --help`` and ``csops sync --help`` (context)."""
    return [
        _measure(ctx, f"startup.{name}-help", f"csops {name} --help", [name, "--help"], bar=False)
        for name in ("render", "sync")
    ]


@case(GROUP, "python", "the interpreter alone")
def python(ctx: Context) -> list[Figure]:
    """``python -c pass`` with the same interpreter (context)."""

    def run() -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=60)
        return time.perf_counter() - started

    stats = sample(run, runs=ctx.options.runs, warmup=ctx.options.warmup)
    return [Figure("startup.python", "python -c pass", "s", stats, detail={})]
