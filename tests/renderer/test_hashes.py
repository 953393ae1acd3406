"""csctl's hash, reproduced bit for bit (Go's own dirhash checks it in test_hash_oracle)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from csops.renderer.hashes import StackHashes, clean, dirhash_h1, file_hash

pytestmark = pytest.mark.unit


def test_dirhash_is_go_dirhash_hash1(tmp_path: Path) -> None:
    # Lines "<sha256>  <path>\n" over files sorted byte-wise, hidden files included.
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_bytes(b"x\n")
    (tmp_path / ".hidden").write_bytes(b"")
    (tmp_path / "B").write_bytes(b"upper")
    import base64
    import hashlib

    lines = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        for name, data in [(".hidden", b""), ("B", b"upper"), ("b/x.txt", b"x\n")]
    )
    expected = "h1:" + base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode()
    assert dirhash_h1(tmp_path) == expected


def test_clean_and_file_hash(tmp_path: Path) -> None:
    assert clean("h1:Ab+/c=") == "abc"
    (tmp_path / "values.yaml").write_text("a: 1\n")
    assert file_hash(tmp_path / "values.yaml").isalnum()


def test_hashes_json_round_trip_drops_absent_layers() -> None:
    hashes = StackHashes("abc", clusterAddonDir="def")
    assert json.loads(hashes.to_json()) == {"clusterStack": "abc", "clusterAddonDir": "def"}
    assert StackHashes.from_json(hashes.to_json().replace("}", ', "future": "x"}')) == hashes
