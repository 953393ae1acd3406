"""csops's dirhash against Go's own ``golang.org/x/mod/sumdb/dirhash`` (what csctl calls).

``hack/dirhash`` is built with the machine's Go (the same toolchain the test control plane
needs) and run on real SCS directories, every example stack and a directory of awkward names.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from csops.renderer.hashes import dirhash_h1
from tests.renderer.oracles import go_build

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "scs"


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
    stacks = sorted(p.parent for p in (ROOT / "stacks" / "providers").rglob("csctl.yaml"))
    return [
        FIXTURES / "cso-docker-ferrol-1-27-hipstsw" / "node-image",
        FIXTURES / "cluster-stacks-docker-scs",
        *stacks,
        *(s / "cluster-addon" for s in stacks),
        awkward,
    ]


def test_python_dirhash_equals_go_dirhash(go_dirhash: Path, tmp_path: Path) -> None:
    directories = _directories(tmp_path)
    out = subprocess.run(
        [str(go_dirhash), *map(str, directories)], check=True, capture_output=True, text=True
    ).stdout.split()
    assert len(out) == len(directories)
    for directory, expected in zip(directories, out, strict=True):
        assert dirhash_h1(directory) == expected, directory
