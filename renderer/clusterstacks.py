"""``ClusterStack`` resources (CSO API ``clusterstack.x-k8s.io/v1alpha1``) kept in the repo."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csops.renderer import documents, schemas
from csops.renderer.config import RepoConfig
from csops.renderer.errors import ProblemList, RendererError
from csops.renderer.names import NamingError, StackId, check_provider, check_stack_name, parse_minor
from csops.renderer.versions import Version, VersionError

API_VERSION = "clusterstack.x-k8s.io/v1alpha1"
KIND = "ClusterStack"


@dataclass(frozen=True)
class ClusterStack:
    """One ClusterStack: which releases of a stack line a namespace offers."""

    name: str
    namespace: str
    stack: StackId
    channel: str
    versions: tuple[Version, ...]
    auto_subscribe: bool
    file: str
    object: dict[str, Any]


def _load_file(path: Path, config: RepoConfig, problems: ProblemList) -> list[ClusterStack]:
    display = config.display(path)
    text = path.read_text(encoding="utf-8")
    found = []
    docs = list(documents.loads_all(text, display))
    for index, doc in enumerate(docs):
        where = display if len(docs) == 1 else f"{display}#{index + 1}"
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            problems.add(
                where,
                f"is not a {KIND}",
                field="kind",
                hint=f"clusterstacks/ holds {API_VERSION} ClusterStack resources only",
            )
            continue
        errors = schemas.validate("clusterstack", doc, where, text if len(docs) == 1 else None)
        if errors:
            problems.extend(errors)
            continue
        spec = doc["spec"]
        lines = documents.line_index(text) if len(docs) == 1 else {}
        try:
            check_provider(spec["provider"])
            check_stack_name(spec["name"])
            major, minor = parse_minor(str(spec["kubernetesVersion"]))
        except NamingError as exc:
            problems.add(where, str(exc), field="spec")
            continue
        versions = []
        for i, text_version in enumerate(spec.get("versions") or []):
            try:
                versions.append(Version.parse(text_version))
            except VersionError as exc:
                problems.add(
                    where,
                    str(exc),
                    field=f"spec.versions[{i}]",
                    line=lines.get(("spec", "versions", i)),
                )
        meta = doc["metadata"]
        namespace = meta.get("namespace") or config.default_namespace
        obj = {k: v for k, v in doc.items() if k != "status"}
        obj["metadata"] = {**meta, "namespace": namespace}
        found.append(
            ClusterStack(
                meta["name"],
                namespace,
                StackId(spec["provider"], spec["name"], major, minor),
                spec.get("channel", "stable"),
                tuple(versions),
                bool(spec.get("autoSubscribe", True)),
                where,
                obj,
            )
        )
    return found


def load_cluster_stacks(config: RepoConfig) -> tuple[list[ClusterStack], ProblemList]:
    """Every ClusterStack of the repository, with the problems found on the way."""
    problems = ProblemList()
    base = config.root / config.cluster_stacks
    stacks: list[ClusterStack] = []
    if base.is_dir():
        for path in sorted(base.rglob("*")):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                try:
                    stacks.extend(_load_file(path, config, problems))
                except RendererError as exc:
                    problems.extend(exc.problems)
    seen: dict[tuple[str, StackId], ClusterStack] = {}
    names: dict[tuple[str, str], ClusterStack] = {}
    for cs in stacks:
        if (cs.namespace, cs.stack) in seen:
            problems.add(
                cs.file,
                f"offers {cs.stack.prefix} in namespace {cs.namespace} again",
                hint=f"already offered by {seen[(cs.namespace, cs.stack)].file}",
            )
        if (cs.namespace, cs.name) in names:
            problems.add(
                cs.file,
                f"ClusterStack {cs.namespace}/{cs.name} is defined twice",
                field="metadata.name",
                hint=f"also in {names[(cs.namespace, cs.name)].file}",
            )
        seen[(cs.namespace, cs.stack)] = cs
        names[(cs.namespace, cs.name)] = cs
    return stacks, problems
