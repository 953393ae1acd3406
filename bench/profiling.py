"""Profile one replayed iteration of a case with pyinstrument and summarise its hot spots."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.registry import Prepare

REPO_ROOT = Path(__file__).resolve().parent.parent
HTML_LIMIT = 1024 * 1024


def owner(file_path: str | None) -> str:
    """Whose code a frame is: csops, the Helm engine (Go, via helm_python), or a library."""
    if not file_path:
        return "other"
    if "helm_python" in file_path:
        return "helm (Go engine via helm_python)"
    if file_path.startswith("<"):
        return "built-in"
    path = Path(file_path)
    if (
        path.is_absolute()
        and REPO_ROOT in path.parents
        and ".venv" not in path.parts
        and "site-packages" not in path.parts
    ):
        top = path.relative_to(REPO_ROOT).parts[0]
        return "bench harness" if top in ("bench", "tests") else "csops"
    if "site-packages" in path.parts:
        parts = path.parts
        return parts[parts.index("site-packages") + 1].split(".")[0]
    return "stdlib"


def _location(frame: Any) -> str:
    path = frame.file_path or ""
    p = Path(path)
    try:
        short = p.relative_to(REPO_ROOT).as_posix() if p.is_absolute() else path
    except ValueError:
        short = frame.file_path_short or path
    if "site-packages" in p.parts:
        short = "/".join(p.parts[p.parts.index("site-packages") + 1 :])
    return short if short.startswith("<") else f"{short}:{frame.line_no}"


def summarise(root: Any, limit: int = 25) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Self time and inclusive time per function (recursion counted once) from a frame tree."""
    self_time: dict[tuple[str, str], float] = defaultdict(float)
    inclusive: dict[tuple[str, str], float] = defaultdict(float)
    owners: dict[tuple[str, str], str] = {}

    def walk(frame: Any, on_stack: frozenset[tuple[str, str]]) -> None:
        if frame.is_synthetic:
            return
        key = (frame.function or "?", _location(frame))
        owners[key] = owner(frame.file_path)
        children = [c for c in frame.children if not c.is_synthetic]
        self_time[key] += frame.time - sum(c.time for c in children)
        if key not in on_stack:
            inclusive[key] += frame.time
        for child in children:
            walk(child, on_stack | {key})

    walk(root, frozenset())

    def rows(table: dict[tuple[str, str], float]) -> list[dict[str, Any]]:
        ranked = sorted(table.items(), key=lambda kv: kv[1], reverse=True)[:limit]
        return [
            {"function": f, "location": loc, "seconds": round(t, 4), "owner": owners[(f, loc)]}
            for (f, loc), t in ranked
        ]

    own_inclusive = {k: v for k, v in inclusive.items() if owners[k] == "csops"}
    return rows(self_time), rows(own_inclusive)


def profile(case_key: str, prepare: Prepare, out_dir: Path, stem: str) -> dict[str, Any]:
    """Run one iteration of ``case_key`` under pyinstrument; save text (and HTML if small)."""
    from pyinstrument import Profiler

    fn = prepare()
    profiler = Profiler(interval=0.001)
    profiler.start()
    fn()
    session = profiler.stop()
    out_dir.mkdir(parents=True, exist_ok=True)
    text_path = out_dir / f"{stem}.txt"
    text_path.write_text(
        profiler.output_text(unicode=False, color=False, show_all=False)
        + "\n\n=== flat (self time) ===\n"
        + profiler.output_text(unicode=False, color=False, flat=True),
        encoding="utf-8",
    )
    html = profiler.output_html()
    html_path: Path | None = out_dir / f"{stem}.html"
    assert html_path is not None
    if len(html.encode()) <= HTML_LIMIT:
        html_path.write_text(html, encoding="utf-8")
    else:
        html_path.unlink(missing_ok=True)
        html_path = None
    self_rows, inclusive_rows = summarise(session.root_frame())
    return {
        "case": case_key,
        "duration_s": session.duration,
        "text": _display(text_path),
        "html": _display(html_path) if html_path else None,
        "self_time": self_rows,
        "inclusive": inclusive_rows,
    }


def _display(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)
