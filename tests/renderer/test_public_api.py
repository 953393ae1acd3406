"""The renderer's public names: every one resolves, lazily, to the object its module defines."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from csops import renderer


@pytest.mark.unit
@pytest.mark.parametrize("name", renderer.__all__)
def test_every_public_name_resolves_to_its_definition(name: str) -> None:
    module, inner = renderer._WHERE[name]
    assert getattr(renderer, name) is getattr(importlib.import_module(module), inner)


@pytest.mark.unit
def test_the_table_names_exactly_the_public_api() -> None:
    assert sorted(renderer._WHERE) == sorted(renderer.__all__)


@pytest.mark.unit
def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        renderer.no_such_name  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.integration
def test_a_constant_does_not_import_helm() -> None:
    """The syncer reads constants from the renderer without loading Helm or JSON Schema."""
    probe = (
        "import sys\n"
        "from csops.renderer import RELEASES_ANNOTATION, parse_release_name\n"
        "print(sorted(m for m in ('helm_python', 'jsonschema', 'git') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
