"""Smoke test of the benchmark harness: ``python -m bench --quick`` on a tiny workload.

Checks that the harness runs and writes well-formed results; it asserts no timings (the
figures of a CI machine mean nothing), only the shape of what is written and the functional
checks the cases make (a changed stack is the only one sent through Helm).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import registry, report

# the module fixtures run whole benchmark groups (quick sizes): minutes on a busy machine
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

REPO_ROOT = Path(__file__).resolve().parents[2]
RENDER_FIGURES = {
    "render.full",
    "render.noop",
    "render.one-stack",
    "render.one-clusterstack",
    "render.one-stack-beyond-helm",
    "render.one-clusterstack-beyond-helm",
    "render.helm",
    "render.overhead",
    "render.overhead-render-only",
    "render.rss",
}


SYNC_CASES = ("first-apply", "noop", "prune", "drift", "latency", "rss")
SYNC_FIGURES = {
    "sync.first-apply",
    "sync.first-apply-kubectl",
    "sync.first-apply-cli",
    "sync.first-apply-ratio",
    "sync.noop",
    "sync.noop-controller",
    "sync.noop-writes",
    "sync.prune",
    "sync.drift",
    "sync.latency",
    "sync.rss-mem",
    "sync.rss",
}


def _bench(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    out = tmp_path_factory.mktemp("bench")
    results, docs = out / "results", out / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nHand-written intro.\n\n## Notes\n\nKept.\n")
    done = _bench(
        "--quick",
        "--cases",
        "render",
        "--stacks",
        "2",
        "--releases",
        "2",
        "--results-dir",
        str(results),
        "--docs",
        str(docs),
        "--work-dir",
        str(out / "work"),
    )
    assert done.returncode == 0, done.stderr
    return results, docs


def test_results_json_is_well_formed(quick_run: tuple[Path, Path]) -> None:
    results, _ = quick_run
    data = json.loads((results / "render.json").read_text())
    assert data["group"] == "render"
    assert data["errors"] == []
    assert data["options"]["quick"] is True
    assert data["options"]["sizes"] == {"stacks": 2, "releases": 2}
    for key in ("cpu", "cores", "ram_gib", "python", "csops", "helm_python_sdk"):
        assert data["machine"][key]
    figures = {f["key"]: f for f in data["figures"]}
    assert set(figures) == RENDER_FIGURES
    for fig in figures.values():
        assert fig["runs"] == 1
        assert len(fig["values"]) == 1
        assert fig["min"] <= fig["median"] <= fig["max"]
        assert fig["met"] in (True, False, None)
        assert fig["unit"] in ("s", "ratio", "MiB")
        if fig["unit"] in ("s", "MiB"):
            assert fig["median"] > 0
    for key in ("render.noop", "render.overhead", "render.one-stack", "render.one-clusterstack"):
        assert figures[key]["bar"], key
        assert isinstance(figures[key]["met"], bool), key
    assert figures["render.full"]["detail"]["class_renders"] == 4
    # Functional, not timing: only the changed stack went through Helm.
    assert figures["render.one-stack"]["met"] is True, figures["render.one-stack"]["detail"]
    observed = figures["render.one-stack"]["detail"]["observed"]
    assert observed["helm_renders"] == 1
    assert observed["class_charts"] == [observed["stack"]]
    assert figures["render.one-clusterstack"]["met"] is True
    assert figures["render.one-clusterstack"]["detail"]["observed"]["helm_renders"] == 2
    profiles = data["profiles"]
    assert profiles
    assert sum(p["slowest"] for p in profiles) == 1
    for profile in profiles:
        assert profile["case"] in figures
        assert profile["self_time"]
        assert (results / f"{profile['case']}-profile.txt").is_file()


@pytest.fixture(scope="module")
def quick_sync_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sync group at quick sizes on its own control plane (started and stopped by it)."""
    out = tmp_path_factory.mktemp("bench-sync")
    results, docs = out / "results", out / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nHand-written intro.\n")
    done = _bench(
        "--quick",
        "--cases",
        # every sync case but the side by side with Flux, whose build `make bench` does
        ",".join(f"sync.{c}" for c in SYNC_CASES),
        "--sync-objects",
        "12",
        "--results-dir",
        str(results),
        "--docs",
        str(docs),
        "--work-dir",
        str(out / "work"),
        timeout=280,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return results, docs


def test_sync_results_are_well_formed(quick_sync_run: tuple[Path, Path]) -> None:
    results, docs = quick_sync_run
    data = json.loads((results / "sync.json").read_text())
    assert data["group"] == "sync"
    assert data["errors"] == []
    assert data["options"]["sizes"] == {"sync_objects": 12}
    figures = {f["key"]: f for f in data["figures"]}
    assert set(figures) == SYNC_FIGURES
    for fig in figures.values():
        assert fig["runs"] == (2 if fig["key"] == "sync.noop-writes" else 1), fig[
            "key"
        ]  # both passes
        assert fig["min"] <= fig["median"] <= fig["max"]
        assert fig["met"] in (True, False, None)
        assert fig["unit"] in ("s", "x", "MiB", "requests")
        if fig["unit"] in ("s", "MiB", "x"):
            assert fig["median"] > 0, fig["key"]
    # The no-op write count is reported as a number (zero is the bar, not asserted here).
    writes = figures["sync.noop-writes"]
    assert isinstance(writes["median"], int | float)
    assert isinstance(writes["met"], bool)
    assert writes["detail"]["objects"] == 12
    for key in ("sync.first-apply-ratio", "sync.drift", "sync.latency", "sync.rss-mem"):
        assert figures[key]["bar"], key
        assert isinstance(figures[key]["met"], bool), key
    assert figures["sync.prune"]["detail"]["pruned"] == 6
    assert "throttle_waits" in figures["sync.first-apply-kubectl"]["detail"]
    assert data["profiles"] and sum(p["slowest"] for p in data["profiles"]) == 1
    text = docs.read_text()
    assert "Hand-written intro." in text
    assert text.count("<!-- bench:sync:start -->") == 1
    assert "objects" in data["workload"]


def test_docs_section_is_written_and_the_rest_kept(quick_run: tuple[Path, Path]) -> None:
    _, docs = quick_run
    text = docs.read_text()
    assert "Hand-written intro." in text
    assert "## Notes\n\nKept." in text
    assert text.count("<!-- bench:render:start -->") == 1
    assert text.count("<!-- bench:render:end -->") == 1
    assert "| No-op re-render, 2 stacks × 2 releases |" in text
    assert "**met**" in text or "**not met**" in text
    assert "helm-python-sdk" in text


def test_update_doc_replaces_only_its_group(tmp_path: Path) -> None:
    doc = tmp_path / "b.md"
    report.update_doc(doc, "render", "<!-- bench:render:start -->\nA\n<!-- bench:render:end -->")
    report.update_doc(doc, "sync", "<!-- bench:sync:start -->\nS\n<!-- bench:sync:end -->")
    report.update_doc(doc, "render", "<!-- bench:render:start -->\nB\n<!-- bench:render:end -->")
    text = doc.read_text()
    assert "\nB\n" in text
    assert "\nA\n" not in text
    assert "\nS\n" in text
    assert text.index("bench:render") < text.index("bench:sync")


def test_case_selection() -> None:
    names = {f"{c.group}.{c.name}" for c in registry.select("render")}
    assert "render.noop" in names
    assert [c.name for c in registry.select("render.noop")] == ["noop"]
    assert {c.name for c in registry.select("all")} >= {c.name for c in registry.select("render")}
    with pytest.raises(ValueError, match="unknown benchmark case"):
        registry.select("nope")


def test_cli_lists_cases_and_rejects_unknown_ones() -> None:
    listed = _bench("--list")
    assert listed.returncode == 0
    assert "render.overhead" in listed.stdout
    bad = _bench("--cases", "nope")
    assert bad.returncode == 2
    assert "unknown benchmark case" in bad.stderr


def test_stats() -> None:
    stats = registry.Stats([3.0, 1.0, 2.0, 10.0])
    assert stats.median == 2.5
    assert (stats.min, stats.max) == (1.0, 10.0)
    q1, q3 = stats.iqr
    assert stats.min <= q1 <= stats.median <= q3 <= stats.max
    assert report.fmt(0.25, "ratio") == "+25.0 %"
    assert report.fmt(0.4, "s") == "400 ms"


@pytest.mark.timeout(300)
def test_startup_results_hold_the_import_bar(tmp_path: Path) -> None:
    """The start-up group runs, reports every figure and checks the import bar it states."""
    results = tmp_path / "results"
    done = _bench(
        "--quick", "--cases", "startup", "--results-dir", str(results), "--no-docs", timeout=200
    )
    assert done.returncode == 0, done.stderr[-4000:]
    data = json.loads((results / "startup.json").read_text())
    assert data["errors"] == []
    figures = {f["key"]: f for f in data["figures"]}
    assert set(figures) == {
        "startup.version",
        "startup.help",
        "startup.render-help",
        "startup.sync-help",
        "startup.python",
    }
    for key in ("startup.version", "startup.help"):
        assert figures[key]["met"] is True, figures[key]["detail"]
        assert figures[key]["detail"]["heavy_imported"] == []
        assert figures[key]["detail"]["slowest_imports"], key
    # The check can fail: a command that uses Helm is seen importing it.
    assert "helm_python" in figures["startup.render-help"]["detail"]["heavy_imported"]
    assert all(f["median"] > 0 for f in figures.values())


def test_scale_cases_report_each_figure_against_its_bar(tmp_path: Path) -> None:
    """The scale group at quick size: first apply with RSS, no-op writes, drift."""
    results = tmp_path / "results"
    done = _bench(
        "--quick", "--cases", "scale", "--results-dir", str(results), "--no-docs", timeout=280
    )
    assert done.returncode == 0, done.stderr[-4000:]
    data = json.loads((results / "scale.json").read_text())
    assert data["errors"] == []
    figures = {f["key"]: f for f in data["figures"]}
    assert set(figures) == {
        "scale.first-apply",
        "scale.first-apply-mem",
        "scale.noop",
        "scale.noop-controller",
        "scale.noop-writes",
        "scale.drift",
    }
    for key in ("scale.first-apply-mem", "scale.noop-writes", "scale.drift"):
        assert figures[key]["bar"], key
        assert isinstance(figures[key]["met"], bool), key
    assert figures["scale.noop"]["detail"]["objects"] == 60


@pytest.mark.timeout(600)
def test_fanout_case_brings_every_cluster_ready_and_reports_its_growth(tmp_path: Path) -> None:
    """One fan-out case at quick size: 0, 2 and 4 Clusters (on real Cluster API) over one
    workload plane, 4 workers; the case itself fails unless every ClusterAddon is Ready."""
    results = tmp_path / "results"
    done = _bench(
        "--quick",
        "--cases",
        "fanout.workers-4",
        "--results-dir",
        str(results),
        "--no-docs",
        timeout=540,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    data = json.loads((results / "fanout.json").read_text())
    assert data["errors"] == []
    figures = {f["key"]: f for f in data["figures"]}
    sizes = (0, 2, 4)
    assert set(figures) == {
        *(f"fanout.w4-c{n}" for n in sizes),
        *(f"fanout.w4-c{n}-mem" for n in sizes),
        "fanout.w4-per-cluster-c2",
        "fanout.w4-per-cluster-c4",
        "fanout.w4-growth",
    }
    for n in sizes:
        assert figures[f"fanout.w4-c{n}"]["detail"]["clusters"] == n
        assert figures[f"fanout.w4-c{n}"]["detail"]["workers"] == 4
        assert figures[f"fanout.w4-c{n}-mem"]["median"] > 0
    growth = figures["fanout.w4-growth"]
    assert growth["bar"] and isinstance(growth["met"], bool)
    assert "4 paused Clusters" in data["workload"]
