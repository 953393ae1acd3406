"""The side-by-side table: one row per case, csops, kubectl and Flux in columns."""

from __future__ import annotations

import pytest

from bench.registry import Figure, Stats
from bench.report import side_by_side

pytestmark = pytest.mark.unit


def fig(key: str, unit: str, *values: float, **detail: object) -> Figure:
    return Figure(f"sync.{key}", key, unit, Stats(list(values)), detail=dict(detail))


def test_the_peers_share_one_row_per_case_with_the_ratios_beside_them() -> None:
    figures = [
        fig(
            "peers-first-apply-csops",
            "s",
            1.0,
            2.0,
            3.0,
            versions={"source-controller": "v1"},
            tools={"kube-apiserver": "v1.36.3", "kubectl": "v1.37.1"},
        ),
        fig("peers-first-apply-kubectl", "s", 4.0),
        fig("peers-first-apply-flux", "s", 8.0),
        fig("first-apply-ratio-kubectl", "x", 0.5),
        fig("first-apply-ratio-flux", "x", 0.25),
        fig("noop-dryrun-writes-flux", "requests", 1000),
        fig("prune", "s", 9.0),
    ]
    text = side_by_side("sync", figures)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| case | csops | kubectl | Flux |")
    assert rows[1] == "| First apply | 2.00 s (1.00 s – 3.00 s) | 4.00 s | 8.00 s | 0.50× | 0.25× |"
    assert rows[2] == "| No-op: dry-run writes | — | — | 1,000 requests | — | — |"
    assert len(rows) == 3
    assert "source-controller v1" in text
    assert "kube-apiserver v1.36.3, kubectl v1.37.1" in text


def test_no_peer_figures_no_table() -> None:
    assert side_by_side("sync", [fig("prune", "s", 1.0)]) == ""
