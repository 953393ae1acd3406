"""csops's dirhash against Go's own ``golang.org/x/mod/sumdb/dirhash`` (what csctl calls).

``hack/dirhash`` is built with the machine's Go (the same toolchain the test control plane
needs) and run on every example and fixture stack (with vendored archives, unpacked
subcharts, a node-image directory, a script without a trailing newline), their layers, and a
directory of awkward names.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from csops.renderer.hashes import dirhash_h1
from tests.renderer.oracles import go_build

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "stacks"


@pytest.fixture(scope="session")
def go_dirhash(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return go_build("dirhash", tmp_path_factory.mktemp("dirhash"))


def _directories(tmp: Path) -> list[Path]:
    awkward = tmp / "awkward"
    (awkward / "sub dir" / ".hidden").mkdir(parents=True)
    (awkward / "sub dir" / ".hidden" / "x").write_bytes(b"")
    (awkward / "Ünïcode.yaml").write_text("ä: ö\n")
    (awkward / "B").write_bytes(b"\x00\x01binary")
    (awkward / "a").write_bytes(b"no newline")
    stacks = sorted(
        {
            p.parent
            for root in (ROOT / "stacks" / "providers", FIXTURES / "providers")
            for name in ("csctl.yaml", "stack.yaml")
            for p in root.rglob(name)
        }
    )
    layers = [
        layer
        for stack in stacks
        for layer in (stack / "cluster-addon", stack / "cluster-class", stack / "node-image")
        if layer.is_dir()
    ]
    return [*stacks, *layers, awkward]


def test_python_dirhash_equals_go_dirhash(go_dirhash: Path, tmp_path: Path) -> None:
    directories = _directories(tmp_path)
    out = subprocess.run(
        [str(go_dirhash), *map(str, directories)], check=True, capture_output=True, text=True
    ).stdout.split()
    assert len(out) == len(directories)
    for directory, expected in zip(directories, out, strict=True):
        assert dirhash_h1(directory) == expected, directory
