"""The example stacks repository (``stacks/``) as tests use it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
STACKS = REPO_ROOT / "stacks"
#: ``status.latestRelease`` of each example ClusterStack once synced.
LATEST_RELEASES = {
    "docker-alder-1-29": "docker-alder-1-29-v1 | v1.29.4",
    "docker-alder-1-30": "docker-alder-1-30-v1 | v1.30.2",
    # Node images first: birch's ClusterClass waits for its ORC Image, which nothing uploads
    # without an OpenStack, so no release of it is usable yet.
    "openstack-birch-1-31": None,
}


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
