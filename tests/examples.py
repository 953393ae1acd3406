"""The example stacks repository (``stacks/``) as tests use it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
STACKS = REPO_ROOT / "stacks"


def rehome_stacks(target: Path, namespace: str) -> Path:
    """A copy of the example stack sources, without the rendered tree, for ``namespace``."""
    shutil.copytree(STACKS, target, ignore=shutil.ignore_patterns("rendered"))
    config = target / "csops.yaml"
    config.write_text(
        config.read_text().replace("defaultNamespace: cluster", f"defaultNamespace: {namespace}")
    )
    for stack in (target / "clusterstacks").glob("*.yaml"):
        stack.write_text(
            re.sub(r"namespace: cluster\b", f"namespace: {namespace}", stack.read_text())
        )
    return target
