"""Generation-4 per-minor stacks: a ``kubernetesVersion`` that is a YAML number or a string, a
minor or a patch; a minor resolved offline from csops.yaml pins or a versions.yaml beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from csops.renderer import RendererError, render_repo, write

pytestmark = pytest.mark.integration

ALDER = Path("providers/docker/alder/1-29")


def gen4(repo: Path, version: str, csctl_version: str = "v1.29") -> Path:
    """Turn alder 1-29 into a generation-4 directory: stack.yaml plus csctl.yaml (minor only)."""
    source = repo / ALDER
    (source / "stack.yaml").write_text(
        f"provider: docker\nclusterStackName: alder\nkubernetesVersion: {version}\n"
    )
    csctl = source / "csctl.yaml"
    csctl.write_text(csctl.read_text().replace("v1.29.4", csctl_version))
    return source


def pin(repo: Path, pins: str) -> None:
    config = repo / "csops.yaml"
    config.write_text(config.read_text() + f"kubernetesVersions:\n{pins}")


def kubernetes_of(repo: Path, release: str) -> str:
    metadata = repo / "rendered/releases" / release / "metadata.yaml"
    return str(yaml.safe_load(metadata.read_text())["versions"]["kubernetes"])


def test_yaml_number_minor_is_pinned_from_csops_yaml(stacks_repo: Path) -> None:
    """``1.30`` is the YAML number 1.3; csops reads what is written and pins it."""
    source = stacks_repo / "providers/docker/alder/1-30"
    (source / "stack.yaml").write_text(
        "provider: docker\nclusterStackName: alder\nkubernetesVersion: 1.30\n"
    )
    pin(stacks_repo, "  1.30: 1.30.9\n")
    write(render_repo(stacks_repo))
    assert kubernetes_of(stacks_repo, "docker-alder-1-30-v1") == "v1.30.9"


@pytest.mark.parametrize("written", ["1.29.7", "v1.29.7", "'1.29.7'"])
def test_patch_is_used_as_written(stacks_repo: Path, written: str) -> None:
    gen4(stacks_repo, written)
    write(render_repo(stacks_repo))
    assert kubernetes_of(stacks_repo, "docker-alder-1-29-v1") == "v1.29.7"


def test_minor_from_a_versions_file_beside_the_stack(stacks_repo: Path) -> None:
    gen4(stacks_repo, "'1.29'")
    (stacks_repo / ALDER.parent / "versions.yaml").write_text(
        "- kubernetes: 1.29.3\n  occm: 2.29.1\n- kubernetes: 1.29.10\n- kubernetes: 1.30.2\n"
    )
    write(render_repo(stacks_repo))
    assert kubernetes_of(stacks_repo, "docker-alder-1-29-v1") == "v1.29.10"


def test_csops_yaml_pin_wins_over_the_versions_file(stacks_repo: Path) -> None:
    gen4(stacks_repo, "v1.29")
    (stacks_repo / ALDER / "versions.yaml").write_text("- kubernetes: 1.29.10\n")
    pin(stacks_repo, '  "v1.29": v1.29.5\n')
    write(render_repo(stacks_repo))
    assert kubernetes_of(stacks_repo, "docker-alder-1-29-v1") == "v1.29.5"


def test_csctl_yaml_with_a_minor_only_resolves_the_same_way(stacks_repo: Path) -> None:
    csctl = stacks_repo / ALDER / "csctl.yaml"
    csctl.write_text(csctl.read_text().replace("v1.29.4", "v1.29"))
    pin(stacks_repo, "  '1.29': '1.29.6'\n")
    write(render_repo(stacks_repo))
    assert kubernetes_of(stacks_repo, "docker-alder-1-29-v1") == "v1.29.6"


def test_unpinned_minor_names_both_places(stacks_repo: Path) -> None:
    gen4(stacks_repo, "1.29")
    with pytest.raises(RendererError) as info:
        render_repo(stacks_repo)
    (problem,) = info.value.problems
    assert (problem.file, problem.line, problem.field) == (
        f"{ALDER}/stack.yaml",
        3,
        "kubernetesVersion",
    )
    assert "names Kubernetes 1.29 without a patch" in problem.message
    assert 'csops.yaml (kubernetesVersions: {"1.29": "1.29.N"})' in problem.hint
    assert f"{ALDER}/versions.yaml or {ALDER.parent}/versions.yaml" in problem.hint


def test_pin_of_another_minor_is_refused(stacks_repo: Path) -> None:
    gen4(stacks_repo, "1.29")
    pin(stacks_repo, "  '1.29': 1.30.1\n")
    with pytest.raises(RendererError) as info:
        render_repo(stacks_repo)
    (problem,) = info.value.problems
    assert (problem.file, problem.field) == ("csops.yaml", "kubernetesVersions.1.29")
    assert problem.line is not None and "must pin a minor to one of its patches" in problem.message


def test_a_new_pin_cuts_a_new_release_in_stable_mode(stacks_repo: Path) -> None:
    gen4(stacks_repo, "1.29")
    pin(stacks_repo, "  '1.29': 1.29.4\n")
    write(render_repo(stacks_repo))
    config = stacks_repo / "csops.yaml"
    config.write_text(config.read_text().replace("1.29.4", "1.29.8"))
    result = render_repo(stacks_repo)
    write(result)
    assert result.new_releases == ["docker-alder-1-29-v2"]
    assert kubernetes_of(stacks_repo, "docker-alder-1-29-v2") == "v1.29.8"
    assert kubernetes_of(stacks_repo, "docker-alder-1-29-v1") == "v1.29.4"


def test_a_new_pin_in_hash_mode_is_explained(stacks_repo: Path) -> None:
    shutil.rmtree(stacks_repo / "clusterstacks")  # they offer stable versions
    gen4(stacks_repo, "1.29")
    pin(stacks_repo, "  '1.29': 1.29.4\n")
    write(render_repo(stacks_repo, mode="hash"))
    config = stacks_repo / "csops.yaml"
    config.write_text(config.read_text().replace("1.29.4", "1.29.8"))
    with pytest.raises(RendererError, match=r"the source now resolves to v1\.29\.8"):
        render_repo(stacks_repo, mode="hash")
