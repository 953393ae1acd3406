"""Every kind of bad input: a clear message naming the file (and field/line), exit 1, and the
rendered tree left exactly as it was."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import Result

from tests.renderer.conftest import snapshot

pytestmark = pytest.mark.integration

ALDER = Path("providers/docker/alder/1-29")
BIRCH = Path("providers/openstack/birch")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def set_spec(repo: Path, stack: str, **fields: object) -> None:
    path = repo / "clusterstacks" / f"{stack}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["spec"].update(fields)
    path.write_text(yaml.safe_dump(doc))


def malformed_yaml(repo: Path) -> None:
    edit(repo / ALDER / "csctl.yaml", "clusterStackName:", "clusterStackName: [unclosed\n  x:")


def missing_field(repo: Path) -> None:
    edit(repo / ALDER / "csctl.yaml", "clusterStackName: alder", "")


def wrong_type(repo: Path) -> None:
    edit(repo / ALDER / "csctl.yaml", "clusterStackName: alder", "clusterStackName: [alder]")


def bad_kubernetes_version(repo: Path) -> None:
    edit(repo / ALDER / "csctl.yaml", "v1.29.4", "1.29")


def dash_in_stack_name(repo: Path) -> None:
    edit(repo / ALDER / "csctl.yaml", "clusterStackName: alder", "clusterStackName: al-der")


def dot_in_provider(repo: Path) -> None:
    edit(repo / ALDER / "csctl.yaml", "type: docker", "type: dock.er")


def wrong_chart_name(repo: Path) -> None:
    edit(repo / ALDER / "cluster-class/Chart.yaml", "docker-alder-1-29-cluster-class", "my-class")


def helm_template_error(repo: Path) -> None:
    path = repo / ALDER / "cluster-class/templates/docker-cluster-template.yaml"
    path.write_text(path.read_text() + "\n{{ .Values.missing.deeper }}\n")


def duplicate_object(repo: Path) -> None:
    src = repo / ALDER / "cluster-class/templates/docker-cluster-template.yaml"
    shutil.copy(src, src.with_name("again.yaml"))


def missing_referenced_template(repo: Path) -> None:
    edit(
        repo / ALDER / "cluster-class/templates/docker-cluster-template.yaml",
        "{{ .Chart.Version }}-cluster",
        "{{ .Chart.Version }}-renamed",
    )


def cluster_stack_without_stack(repo: Path) -> None:
    set_spec(repo, "docker-alder-1-29", name="nosuch")


def symlink_escaping_repo(repo: Path) -> None:
    (repo / ALDER / "cluster-class/templates/link.yaml").symlink_to("/etc/hostname")


def output_escaping_repo(repo: Path) -> None:
    (repo / "csops.yaml").write_text("output: ../elsewhere\n")


def unparsable_version(repo: Path) -> None:
    set_spec(repo, "docker-alder-1-29", versions=["v1.0.0"])


def version_that_does_not_exist(repo: Path) -> None:
    set_spec(repo, "docker-alder-1-29", versions=["v7"])


def provider_without_reference(repo: Path) -> None:
    set_spec(repo, "docker-alder-1-29", noProvider=False)


def provider_by_default(repo: Path) -> None:
    path = repo / "clusterstacks" / "docker-alder-1-30.yaml"
    doc = yaml.safe_load(path.read_text())
    del doc["spec"]["noProvider"]
    path.write_text(yaml.safe_dump(doc))


def changed_stack_identity(repo: Path) -> None:
    set_spec(repo, "docker-alder-1-29", channel="custom")


def deny_and_warn(repo: Path) -> None:
    config = repo / "csops.yaml"
    config.write_text(config.read_text() + "admission:\n  validationActions: [Deny, Warn]\n")


def unknown_admission_action(repo: Path) -> None:
    config = repo / "csops.yaml"
    config.write_text(config.read_text() + "admission:\n  validationActions: [Block]\n")


def changed_release_bundle(repo: Path) -> None:
    path = repo / "rendered/releases/docker-alder-1-29-v1/metadata.yaml"
    path.write_text(path.read_text().replace("v1.29.4", "v1.29.9"))


# -- names that would become paths outside the tree (issue 12, item 1)

TEMPLATES = ALDER / "cluster-class/templates"
CSOPS = [sys.executable, "-c", "from csops.cli import main; main()"]
LAUGHS = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def template(repo: Path, text: str, name: str = "extra.yaml") -> None:
    (repo / TEMPLATES / name).write_text(text)


def name_climbing_out(repo: Path) -> None:
    template(repo, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ../../../../../evil\n")


def kind_climbing_out(repo: Path) -> None:
    template(repo, "apiVersion: v1\nkind: ../../../evil\nmetadata:\n  name: evil\n")


def namespace_climbing_out(repo: Path) -> None:
    template(repo, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: ../x\n")


def cluster_stack_namespace_climbing_out(repo: Path) -> None:
    path = repo / "clusterstacks/docker-alder-1-29.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["metadata"]["namespace"] = "../../../evil"
    path.write_text(yaml.safe_dump(doc))


def metadata_not_a_mapping(repo: Path) -> None:
    template(repo, "apiVersion: v1\nkind: ConfigMap\nmetadata: just-a-string\n")


# -- reads outside the repository (item 2)


def outside(repo: Path, name: str, text: str) -> Path:
    path = repo.parent / "outside" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def file_dependency_outside(repo: Path) -> None:
    chart = outside(repo, "secret/Chart.yaml", "apiVersion: v2\nname: secret\nversion: 0.1.0\n")
    outside(repo, "secret/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\n")
    path = repo / ALDER / "cluster-class/Chart.yaml"
    path.write_text(
        path.read_text() + f"dependencies:\n  - name: secret\n    version: 0.1.0\n"
        f"    repository: file://{chart.parent}\n"
    )


def cluster_stack_linked_from_outside(repo: Path) -> None:
    source = repo / "clusterstacks/docker-alder-1-29.yaml"
    target = outside(repo, "stolen.yaml", source.read_text())
    source.unlink()
    source.symlink_to(target)


def config_linked_from_outside(repo: Path) -> None:
    config = repo / "csops.yaml"
    target = outside(repo, "csops.yaml", config.read_text())
    config.unlink()
    config.symlink_to(target)


def link_in_the_rendered_tree(repo: Path) -> None:
    path = repo / "rendered/releases/docker-alder-1-29-v1/node-images.yaml"
    path.unlink()
    path.symlink_to("/etc/hostname")


# -- duplicate keys (item 8)


def duplicate_key_in_csctl(repo: Path) -> None:
    edit(
        repo / ALDER / "csctl.yaml",
        "  clusterStackName: alder",
        "  clusterStackName: alder\n  kubernetesVersion: v1.29.9",
    )


def duplicate_key_in_cluster_stack(repo: Path) -> None:
    path = repo / "clusterstacks/docker-alder-1-29.yaml"
    path.write_text(path.read_text() + "metadata:\n  name: another\n")


def duplicate_key_in_a_rendered_object(repo: Path) -> None:
    template(
        repo,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n  name: two\n",
    )


# -- tracebacks (item 9)


def random_bytes_in_csctl(repo: Path) -> None:
    (repo / ALDER / "csctl.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00garbage")


def billion_laughs_in_csctl(repo: Path) -> None:
    path = repo / ALDER / "csctl.yaml"
    path.write_text(path.read_text() + LAUGHS)


def billion_laughs_in_values(repo: Path) -> None:
    path = repo / ALDER / "cluster-class/values.yaml"
    path.write_text(LAUGHS)


def huge_values(repo: Path) -> None:
    line = "  key{}: " + "v" * 100 + "\n"
    with (repo / ALDER / "cluster-class/values.yaml").open("w") as out:
        out.write("big:\n")
        for i in range(60_000):  # 6.5 MB: more than Helm loads from one file
            out.write(line.format(i))


# -- unbounded work (item 7)


def huge_object(repo: Path) -> None:
    big = '{{ repeat 2000000 "a" | quote }}'
    template(repo, f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  x: {big}\n")


CASES: list[tuple[Callable[[Path], None], str, str]] = [
    # (breakage, file the message must name, regex the message must match)
    (malformed_yaml, f"{ALDER}/csctl.yaml:", r"malformed YAML"),
    (missing_field, f"{ALDER}/csctl.yaml", r"config: 'clusterStackName' is required"),
    (wrong_type, f"{ALDER}/csctl.yaml:", r"config\.clusterStackName: is a list, not of type"),
    (bad_kubernetes_version, f"{ALDER}/csctl.yaml:", r"config\.kubernetesVersion"),
    (
        dash_in_stack_name,
        f"{ALDER}/csctl.yaml:",
        r"config\.clusterStackName: .*must be lower-case letters and digits.*CSO .*would break",
    ),
    (dot_in_provider, f"{ALDER}/csctl.yaml", r"provider\.type: 'dock\.er' does not match"),
    (
        wrong_chart_name,
        f"{ALDER}/cluster-class/Chart.yaml",
        r"must be 'docker-alder-1-29-cluster-class' \(csctl would package it as my-class-v2\.tgz"
        r", and CSO, .* would not find it",
    ),
    (
        helm_template_error,
        f"{ALDER}/cluster-class/templates/docker-cluster-template.yaml:",
        r"nil pointer",
    ),
    (duplicate_object, f"{ALDER}/cluster-class", r"DockerClusterTemplate.* twice"),
    (
        missing_referenced_template,
        f"{ALDER}/cluster-class",
        r"spec\.infrastructure\.ref: .*DockerClusterTemplate.*-v2-cluster",
    ),
    (cluster_stack_without_stack, "clusterstacks/docker-alder-1-29.yaml", r"points at no stack"),
    (
        symlink_escaping_repo,
        f"{ALDER}/cluster-class/templates/link.yaml",
        r"outside the repository",
    ),
    (output_escaping_repo, "csops.yaml", r"outside the repository"),
    (unparsable_version, "clusterstacks/docker-alder-1-29.yaml", r"spec\.versions\[0\]"),
    (version_that_does_not_exist, "clusterstacks/docker-alder-1-29.yaml", r"v7 .* does not exist"),
    (changed_release_bundle, "rendered/releases/docker-alder-1-29-v1", r"metadata\.yaml"),
    (
        provider_without_reference,
        "clusterstacks/docker-alder-1-29.yaml:",
        r"spec\.providerRef: providerRef is required unless noProvider is true",
    ),
    (
        provider_by_default,
        "clusterstacks/docker-alder-1-30.yaml",
        r"spec\.providerRef: providerRef is required unless noProvider is true",
    ),
    (
        deny_and_warn,
        "csops.yaml",
        r"admission\.validationActions: Deny and Warn cannot be combined",
    ),
    (
        unknown_admission_action,
        "csops.yaml:",
        r"admission\.validationActions\[0\]: 'Block' is not one of",
    ),
    (
        name_climbing_out,
        f"{TEMPLATES}/extra.yaml",
        r"metadata\.name: renders '\.\./\.\./.*evil' is not a valid ConfigMap name",
    ),
    (
        kind_climbing_out,
        f"{TEMPLATES}/extra.yaml",
        r"kind: renders '\.\./\.\./\.\./evil' is not a kind",
    ),
    (namespace_climbing_out, f"{TEMPLATES}/extra.yaml", r"metadata\.namespace: .* not a namespace"),
    (
        cluster_stack_namespace_climbing_out,
        "clusterstacks/docker-alder-1-29.yaml",
        r"metadata\.namespace: '\.\./\.\./\.\./evil' is not a namespace",
    ),
    (metadata_not_a_mapping, f"{TEMPLATES}/extra.yaml", r"without metadata\.name"),
    (file_dependency_outside, f"{ALDER}/cluster-class/Chart.yaml", r"outside the repository"),
    (
        cluster_stack_linked_from_outside,
        "clusterstacks/docker-alder-1-29.yaml",
        r"symbolic link to .*outside",
    ),
    (config_linked_from_outside, "csops.yaml", r"symbolic link to .*outside"),
    (
        link_in_the_rendered_tree,
        "rendered/releases/docker-alder-1-29-v1/node-images.yaml",
        r"is a symbolic link",
    ),
    (
        duplicate_key_in_csctl,
        f"{ALDER}/csctl.yaml:5",
        r"duplicate key 'kubernetesVersion' \(first at line 3\)",
    ),
    (
        duplicate_key_in_cluster_stack,
        "clusterstacks/docker-alder-1-29.yaml:",
        r"duplicate key 'metadata'",
    ),
    (duplicate_key_in_a_rendered_object, f"{TEMPLATES}/extra.yaml:5", r"duplicate key 'name'"),
    (random_bytes_in_csctl, f"{ALDER}/csctl.yaml", r"is not UTF-8 text"),
    (billion_laughs_in_csctl, f"{ALDER}/csctl.yaml", r"aliases expand this document by"),
    (billion_laughs_in_values, f"{ALDER}/cluster-class", r"excessive aliasing"),
    (huge_values, f"{ALDER}/cluster-class", r"larger than the maximum file size"),
    (
        huge_object,
        f"{TEMPLATES}/extra.yaml",
        r"renders an object of 1\.9 MiB, more than the limit of 1\.5 MiB.*--max-object-size",
    ),
]


@pytest.mark.parametrize(("breakage", "file", "pattern"), CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_input_is_reported_and_changes_nothing(
    stacks_repo: Path,
    csops: Callable[..., Result],
    breakage: Callable[[Path], None],
    file: str,
    pattern: str,
) -> None:
    assert csops("render", stacks_repo).exit_code == 0
    breakage(stacks_repo)
    before = snapshot(stacks_repo / "rendered")
    for command in ("validate", "render"):
        result = csops(command, stacks_repo)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
        assert file in result.stderr, result.stderr
        assert re.search(pattern, result.stderr), result.stderr
    assert snapshot(stacks_repo / "rendered") == before
    assert not list(stacks_repo.parent.rglob("evil*")), "a file was written outside the tree"


def test_usage_errors_exit_2(csops: Callable[..., Result], stacks_repo: Path) -> None:
    result = csops("render", stacks_repo, "--mode", "bogus")
    assert result.exit_code == 2
    assert "Invalid value for '--mode'" in result.stderr


def test_missing_repository_is_a_clear_error(csops: Callable[..., Result], tmp_path: Path) -> None:
    result = csops("render", tmp_path / "nope")
    assert result.exit_code == 1
    assert "is not a directory" in result.stderr


def test_a_chart_secret_with_data_renders_with_a_warning(
    stacks_repo: Path, csops: Callable[..., Result]
) -> None:
    secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  pw: hunter2\n"
    template(stacks_repo, secret)
    result = csops("render", stacks_repo)
    assert result.exit_code == 0, result.output
    assert re.search(r"renders Secret \S*creds with data into the committed tree", result.stderr)
    assert "hunter2" not in result.stderr


def test_the_limits_are_flags(stacks_repo: Path, csops: Callable[..., Result]) -> None:
    huge_object(stacks_repo)
    result = csops("render", stacks_repo, "--max-object-size", "3000000")
    assert result.exit_code == 0, result.output
    refused = csops("render", stacks_repo, "--full", "--max-release-size", "100000")
    assert refused.exit_code == 1, refused.output
    assert re.search(
        r"Helm rendered 1\.\d MiB, more than the limit of 100000 bytes", refused.stderr
    )
    assert "--max-release-size" in refused.stderr


def test_a_template_that_loops_too_long_is_stopped(stacks_repo: Path, tmp_path: Path) -> None:
    template(stacks_repo, "{{ range until 100000 }}{{ range until 100000 }}{{ end }}{{ end }}\n")
    run = subprocess.run(
        [*CSOPS, "render", str(stacks_repo), "--render-timeout", "2"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "CSOPS_CACHE_DIR": str(tmp_path / "cache")},
        check=False,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert run.returncode == 1, run.stderr
    assert f"{ALDER}/cluster-class" in run.stderr
    assert "Helm rendering took longer than 2 s" in run.stderr and "--render-timeout" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (stacks_repo / "rendered").exists()
