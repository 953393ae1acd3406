"""Results: the machine and versions, ``results/GROUP.json``, and the Markdown tables.

``docs/benchmarks.md`` holds one section per group between ``<!-- bench:GROUP:start -->`` and
``<!-- bench:GROUP:end -->``; the harness rewrites only the sections of the groups it ran and
leaves the rest of the file (hand-written analysis, other groups) alone.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.registry import Figure, Options

REPO_ROOT = Path(__file__).resolve().parent.parent
DOC_HEADER = """# Benchmarks

Produced by `python -m bench` (`make bench`) from `bench/`; the sections between the
`bench:` markers are rewritten by the harness, the rest of this file is written by hand.
Every figure is the median of several runs after a warm-up, with its spread; each bar of
DESIGN.md §8 is shown as met or not met. Raw figures: `bench/results/*.json`.
"""


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' (dirty work tree)' if dirty else ''}"


def machine() -> dict[str, Any]:
    """The machine and software the figures were measured with."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "ram_gib": _ram_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "csops": f"{_version('csops')} @ {_git_revision()}",
        "helm_python_sdk": _version("helm-python-sdk"),
        "pyinstrument": _version("pyinstrument"),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


@dataclass
class GroupResult:
    """Everything one group's run produced."""

    group: str
    options: Options
    info: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    profiles: list[dict[str, Any]] = field(default_factory=list)

    @property
    def shape(self) -> str:
        """The workload, in words, from the first figure that describes it."""
        for f in self.figures:
            d = f.detail
            if "workload" in d:
                return str(d["workload"])
            if "stacks" in d:
                return (
                    f"{d['stacks']} stacks × {d['releases_per_stack']} releases "
                    f"({d['class_renders']} class-chart renders, {d['manifests']} manifests)"
                )
        return "see the figures"


def write_json(path: Path, res: GroupResult) -> None:
    """``results/GROUP.json``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = res.options
    data = {
        "group": res.group,
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": res.info,
        "options": {
            "runs": options.runs,
            "warmup": options.warmup,
            "quick": options.quick,
            "sizes": options.sizes,
        },
        "workload": res.shape,
        "figures": [f.to_json() for f in res.figures],
        "errors": res.errors,
        "profiles": res.profiles,
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


# --- formatting ----------------------------------------------------------------------------


def fmt(value: float, unit: str) -> str:
    """A value in its unit, rounded for a table."""
    if unit == "s":
        return f"{value * 1000:.0f} ms" if abs(value) < 1 else f"{value:.2f} s"
    if unit == "ratio":
        return f"{value * 100:+.1f} %"
    if unit == "x":
        return f"{value:.2f}×"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    if unit == "requests":
        return f"{value:,.0f} requests"
    return f"{value:.3g} {unit}"


def _status(fig: Figure) -> str:
    if fig.met is None:
        return "—"
    return "**met**" if fig.met else "**not met**"


def table(figures: list[Figure]) -> str:
    """The Markdown table of a group's figures."""
    rows = [
        "| figure | median | spread (min – max) | IQR (q1 – q3) | runs "
        "| bar (DESIGN §8) | status |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for f in figures:
        s = f.stats
        q1, q3 = s.iqr
        rows.append(
            f"| {f.title} | {fmt(s.median, f.unit)} | {fmt(s.min, f.unit)} – "
            f"{fmt(s.max, f.unit)} | {fmt(q1, f.unit)} – {fmt(q3, f.unit)} | "
            f"{len(s.values)} | {f.bar or '—'} | {_status(f)} |"
        )
    return "\n".join(rows)


PEERS = ("csops", "kubectl", "flux")
_PEER_ROWS = (
    ("First apply", "peers-first-apply-{}", "first-apply-ratio-{}"),
    ("No-op pass", "peers-noop-{}", "noop-ratio-{}"),
    ("No-op: real writes", "noop-writes-{}", ""),
    ("No-op: dry-run writes", "noop-dryrun-writes-{}", ""),
    ("Prune", "peers-prune-{}", "prune-ratio-{}"),
    ("Flux's shape (fresh processes)", "peers-shape-{}", "shape-ratio-{}"),
    ("Peak RSS in Flux's shape", "peers-rss-{}", ""),
)


def _cell(fig: Figure | None) -> str:
    if fig is None:
        return "—"
    s = fig.stats
    if s.min == s.max:
        return fmt(s.median, fig.unit)
    return f"{fmt(s.median, fig.unit)} ({fmt(s.min, fig.unit)} – {fmt(s.max, fig.unit)})"


def side_by_side(group: str, figures: list[Figure]) -> str:
    """csops, kubectl and Flux in one table (medians, spread in brackets); empty without them."""
    by_key = {f.key: f for f in figures}
    rows = []
    for label, key, ratio in _PEER_ROWS:
        cells = [by_key.get(f"{group}.{key.format(tool)}") for tool in PEERS]
        if not any(cells):
            continue
        ratios = [by_key.get(f"{group}.{ratio.format(p)}") if ratio else None for p in PEERS[1:]]
        rows.append(f"| {label} | " + " | ".join(_cell(c) for c in [*cells, *ratios]) + " |")
    if not rows:
        return ""
    versions: dict[str, str] = next(
        (f.detail["versions"] for f in figures if f.detail.get("versions")), {}
    )
    tools: dict[str, str] = next((f.detail["tools"] for f in figures if f.detail.get("tools")), {})
    shown = ", ".join(f"{k} {v}" for k, v in versions.items())
    server = (
        f"kube-apiserver {tools['kube-apiserver']}, kubectl {tools['kubectl']}; " if tools else ""
    )
    return "\n".join(
        [
            f"Side by side on one API server ({server}Flux: {shown}, built here from the Go "
            "module proxy; csops in-process except in Flux's shape; median (min – max); ratios "
            "csops / peer, run by run, below 1 = csops faster):",
            "",
            "| case | csops | kubectl | Flux | csops / kubectl | csops / Flux |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )


def machine_lines(info: dict[str, Any]) -> str:
    """The machine and versions, as a Markdown list."""
    return "\n".join(
        [
            f"- Machine: {info['cpu']}, {info['cores']} cores "
            f"({info['cores_usable']} usable), {info['ram_gib']} GiB RAM, {info['os']}; "
            f"load average at start {' / '.join(str(x) for x in info['load_avg'])} "
            "(1 / 5 / 15 min; other work on the machine shows up as spread)",
            f"- Python {info['python']}; csops {info['csops']}; "
            f"helm-python-sdk {info['helm_python_sdk']}; pyinstrument {info['pyinstrument']}",
        ]
    )


def hotspot_table(profile: dict[str, Any], limit: int = 12) -> str:
    """The top functions by self time of the profiled case."""
    rows = [
        "| # | function | where | self time | share | owner |",
        "|---:|---|---|---:|---:|---|",
    ]
    total = profile["duration_s"] or 1.0
    for i, h in enumerate(profile["self_time"][:limit], 1):
        rows.append(
            f"| {i} | `{h['function']}` | `{h['location']}` | {h['seconds'] * 1000:.0f} ms | "
            f"{h['seconds'] / total * 100:.1f} % | {h['owner']} |"
        )
    return "\n".join(rows)


def inclusive_table(profile: dict[str, Any], limit: int = 12) -> str:
    """csops's own functions by inclusive time (callees included, recursion counted once)."""
    rows = [
        "| # | csops function | where | total time | share |",
        "|---:|---|---|---:|---:|",
    ]
    total = profile["duration_s"] or 1.0
    own = [h for h in profile["inclusive"] if h["owner"] == "csops"]
    for i, h in enumerate(own[:limit], 1):
        rows.append(
            f"| {i} | `{h['function']}` | `{h['location']}` | {h['seconds'] * 1000:.0f} ms | "
            f"{h['seconds'] / total * 100:.1f} % |"
        )
    return "\n".join(rows)


#: Section titles that are not the group's name capitalised.
TITLES = {"fanout": "Addon fan-out"}


def section(res: GroupResult) -> str:
    """One group's section of docs/benchmarks.md, markers included."""
    group, options = res.group, res.options
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"<!-- bench:{group}:start -->",
        f"## {TITLES.get(group, group.capitalize())}",
        "",
        f"Measured {when} by `python -m bench --cases {group}"
        f"{' --quick' if options.quick else ''}`: {res.shape}; "
        f"{options.runs} run(s) after {options.warmup} warm-up run(s) per figure.",
        "",
        machine_lines(res.info),
        "",
    ]
    peers = side_by_side(group, res.figures)
    if peers:
        lines += [peers, ""]
    lines += [table(res.figures)]
    if res.errors:
        lines += ["", "Errors:", "", *[f"- {e}" for e in res.errors]]
    for profile in res.profiles:
        why = "the slowest case" if profile.get("slowest") else "case"
        lines += [
            "",
            f"### Profile of {why}: `{profile['case']}` "
            f"(one run, {profile['duration_s']:.2f} s under pyinstrument)",
            "",
            f"Files: `{profile['text']}`"
            + (f", `{profile['html']}`" if profile.get("html") else "")
            + ". Top functions by self time (time spent in the function itself):",
            "",
            hotspot_table(profile),
            "",
            "csops's own functions by inclusive time:",
            "",
            inclusive_table(profile),
        ]
    lines.append(f"<!-- bench:{group}:end -->")
    return "\n".join(lines)


def update_doc(path: Path, group: str, text: str) -> None:
    """Replace (or append) the group's section in the Markdown file."""
    old = path.read_text(encoding="utf-8") if path.exists() else DOC_HEADER
    pattern = re.compile(
        rf"<!-- bench:{re.escape(group)}:start -->.*?<!-- bench:{re.escape(group)}:end -->",
        re.S,
    )
    if pattern.search(old):
        new = pattern.sub(lambda _: text, old)
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new, encoding="utf-8")
