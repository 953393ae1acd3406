"""The case registry, run options, timing and the shared state of one harness run.

A module of cases (``bench/render_cases.py``, later ``bench/sync_cases.py``) registers each
case with :func:`case` under a group name; ``python -m bench --cases GROUP`` runs a group,
``--cases all`` every group, and the report writes one ``bench/results/GROUP.json`` and one
section of ``docs/benchmarks.md`` per group. A case gets a :class:`Context` and returns
:class:`Figure` objects; :func:`sample` times a callable after a warm-up.
"""

from __future__ import annotations

import gc
import importlib
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: Modules that register cases when imported.
CASE_MODULES = (
    "bench.render_cases",
    "bench.sync_cases",
    "bench.peer_cases",
    "bench.scale_cases",
    "bench.startup_cases",
    "bench.fanout_cases",
)


@dataclass(frozen=True)
class Options:
    """What the command line asked for. ``sizes`` holds group-specific sizes by name."""

    runs: int = 5
    warmup: int = 1
    quick: bool = False
    #: figure keys to profile, or "slowest" (the slowest timed case of each group).
    profile: tuple[str, ...] = ("slowest",)
    results_dir: Path = Path("bench/results")
    docs: Path | None = Path("docs/benchmarks.md")
    work_dir: Path | None = None
    sizes: dict[str, int] = field(default_factory=dict)

    def size(self, name: str, full: int, quick: int) -> int:
        """A workload size: the flag if given, else the quick or the full default."""
        given = self.sizes.get(name)
        if given is not None:
            return given
        return quick if self.quick else full


@dataclass
class Stats:
    """Median and spread of repeated measurements (seconds, bytes, ratios…)."""

    values: list[float]

    @property
    def median(self) -> float:
        """The median."""
        return statistics.median(self.values)

    @property
    def min(self) -> float:
        """The smallest value."""
        return min(self.values)

    @property
    def max(self) -> float:
        """The largest value."""
        return max(self.values)

    @property
    def iqr(self) -> tuple[float, float]:
        """First and third quartile (both the single value when there is one run)."""
        if len(self.values) < 2:
            return (self.values[0], self.values[0])
        q = statistics.quantiles(self.values, n=4, method="inclusive")
        return (q[0], q[2])

    def to_json(self) -> dict[str, Any]:
        """Median, min, max, quartiles, runs and every value."""
        q1, q3 = self.iqr
        return {
            "median": self.median,
            "min": self.min,
            "max": self.max,
            "q1": q1,
            "q3": q3,
            "runs": len(self.values),
            "values": self.values,
        }


@dataclass
class Figure:
    """One reported figure, optionally held against a bar of DESIGN.md §8.

    ``met`` is ``None`` when the figure has no bar of its own (context figures).
    """

    key: str
    title: str
    unit: str
    stats: Stats
    bar: str = ""
    met: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The figure as it goes into ``results/GROUP.json``."""
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            **self.stats.to_json(),
            "bar": self.bar or None,
            "met": self.met,
            "detail": self.detail,
        }


#: A profile target: does the (untimed) set-up and returns the callable to profile.
Prepare = Callable[[], Callable[[], object]]


@dataclass
class Context:
    """State shared by the cases of one harness run: options, scratch space, workloads."""

    options: Options
    scratch: Path
    shared: dict[str, Any] = field(default_factory=dict)
    #: figure key → how to replay one measured iteration (for the profile of the slowest).
    replays: dict[str, Prepare] = field(default_factory=dict)
    log: Callable[[str], None] = print
    #: called (last registered first) when the harness run ends, also after a failure.
    cleanups: list[Callable[[], object]] = field(default_factory=list)

    def on_close(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` when the harness run ends (stop a server, remove a directory)."""
        self.cleanups.append(fn)

    def close(self) -> None:
        """Run the registered clean-ups, newest first; every one runs even if one fails."""
        while self.cleanups:
            fn = self.cleanups.pop()
            try:
                fn()
            except Exception as exc:  # report and go on: the others must still run
                self.log(f"clean-up {fn!r} failed: {type(exc).__name__}: {exc}")

    def once(self, key: str, factory: Callable[[], T]) -> T:
        """Build a shared object (a workload) once per harness run."""
        if key not in self.shared:
            self.shared[key] = factory()
        value: T = self.shared[key]
        return value

    def tempdir(self, prefix: str) -> Path:
        """A fresh directory inside the scratch space."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.scratch))


@dataclass(frozen=True)
class Case:
    """A registered benchmark case."""

    group: str
    name: str
    title: str
    run: Callable[[Context], list[Figure]]


_CASES: dict[str, Case] = {}


def case(group: str, name: str, title: str) -> Callable[[Callable[[Context], list[Figure]]], Any]:
    """Register ``fn(ctx) -> [Figure]`` as case ``group.name`` (in definition order)."""

    def register(fn: Callable[[Context], list[Figure]]) -> Callable[[Context], list[Figure]]:
        key = f"{group}.{name}"
        if key in _CASES:
            raise ValueError(f"benchmark case {key} registered twice")
        _CASES[key] = Case(group, name, title, fn)
        return fn

    return register


def load_cases() -> dict[str, Case]:
    """Import every case module and return the registry (``group.name`` → case)."""
    for module in CASE_MODULES:
        importlib.import_module(module)
    return dict(_CASES)


def groups() -> list[str]:
    """The registered groups, in registration order."""
    return list(dict.fromkeys(c.group for c in load_cases().values()))


def select(spec: str) -> list[Case]:
    """Cases named by ``--cases``: ``all``, or a comma list of groups and ``group.name``."""
    registry = load_cases()
    if spec.strip() == "all":
        return list(registry.values())
    chosen: list[Case] = []
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        matched = [c for k, c in registry.items() if item in (k, c.group)]
        if not matched:
            known = ", ".join(["all", *groups(), *registry])
            raise ValueError(f"unknown benchmark case or group {item!r} (known: {known})")
        chosen.extend(c for c in matched if c not in chosen)
    return chosen


def sample(run: Callable[[], float], *, runs: int, warmup: int) -> Stats:
    """Call ``run`` ``warmup`` times, then ``runs`` times; it returns its own elapsed time.

    The callable times itself so that per-run set-up (copying a workload) stays outside the
    measurement. A full garbage collection precedes each run.
    """
    for _ in range(warmup):
        gc.collect()
        run()
    values = []
    for _ in range(max(runs, 1)):
        gc.collect()
        values.append(run())
    return Stats(values)


def timed(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
