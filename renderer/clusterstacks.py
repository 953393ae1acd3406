"""``ClusterStack`` resources (CSO API ``clusterstack.x-k8s.io/v1alpha1``) kept in the repo."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from csops import confine
from csops.renderer import documents, kubenames, providers, schemas
from csops.renderer.config import RepoConfig
from csops.renderer.errors import Problem, ProblemList, RendererError
from csops.renderer.names import NamingError, StackId, check_provider, check_stack_name, parse_minor
from csops.renderer.providers import ProviderTemplate
from csops.renderer.versions import STABLE, Version, VersionError

API_VERSION = "clusterstack.x-k8s.io/v1alpha1"
KIND = "ClusterStack"
IMMUTABLE = ("provider", "name", "kubernetesVersion", "channel")


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
    provider: ProviderTemplate | None = None

    @property
    def provider_ref(self) -> dict[str, Any] | None:
        """``spec.providerRef`` when the stack uses a provider (``noProvider: false``)."""
        spec = self.object.get("spec") or {}
        return None if spec.get("noProvider", False) else spec.get("providerRef")


class _Lines:
    """Line numbers of a document's fields, found (by parsing it again) only when asked."""

    def __init__(self, text: str | None) -> None:
        self.text = text
        self.index: dict[tuple[str | int, ...], int] | None = None

    def get(self, path: tuple[str | int, ...]) -> int | None:
        if self.index is None:
            self.index = documents.line_index(self.text) if self.text is not None else {}
        return self.index.get(path)


def _load_file(
    path: Path, config: RepoConfig, problems: ProblemList, templates: list[ProviderTemplate]
) -> list[ClusterStack]:
    display = config.display(path)
    confine.real(config.root, path, display)
    text = documents.read_text(path, display)
    found = []
    docs = list(documents.loads_all(text, display))
    for index, doc in enumerate(docs):
        where = display if len(docs) == 1 else f"{display}#{index + 1}"
        if providers.is_template(doc):
            template = providers.load_template(doc, where, config.default_namespace)
            if isinstance(template, ProviderTemplate):
                templates.append(template)
            else:
                problems.extend([template])
            continue
        if not isinstance(doc, dict) or doc.get("kind") != KIND:
            problems.add(
                where,
                f"is not a {KIND}",
                field="kind",
                hint=f"clusterstacks/ holds {API_VERSION} ClusterStack resources and "
                f"the provider templates (…{providers.TEMPLATE_SUFFIX}) they reference",
            )
            continue
        errors = schemas.validate("clusterstack", doc, where, text if len(docs) == 1 else None)
        if errors:
            problems.extend(errors)
            continue
        spec = doc["spec"]
        lines = _Lines(text if len(docs) == 1 else None)
        try:
            check_provider(spec["provider"])
            check_stack_name(spec["name"])
            major, minor = parse_minor(str(spec["kubernetesVersion"]))
        except NamingError as exc:
            problems.add(where, str(exc), field="spec")
            continue
        channel = spec.get("channel", STABLE)
        versions = []
        for i, text_version in enumerate(spec.get("versions") or []):
            try:
                versions.append(Version.parse(text_version))
            except VersionError as exc:
                line = lines.get(("spec", "versions", i))
                problems.add(where, str(exc), field=f"spec.versions[{i}]", line=line)
        if not spec.get("noProvider", False) and not spec.get("providerRef"):
            problems.add(
                where,
                "providerRef is required unless noProvider is true",
                field="spec.providerRef",
                line=lines.get(("spec", "noProvider")) or lines.get(("spec",)),
                hint="set spec.noProvider: true for a stack without provider integration, "
                "or reference the provider's ClusterStackReleaseTemplate (kept in "
                "clusterstacks/)",
            )
        meta = doc["metadata"]
        namespace = meta.get("namespace") or config.default_namespace
        obj = {k: v for k, v in doc.items() if k != "status"}
        obj["metadata"] = {**meta, "namespace": namespace}
        refused = kubenames.problems(obj)
        for field, message in refused:
            problems.add(where, message, field=field, line=lines.get(tuple(field.split("."))))
        if refused:
            continue
        found.append(
            ClusterStack(
                meta["name"],
                namespace,
                StackId(spec["provider"], spec["name"], major, minor),
                channel,
                tuple(versions),
                bool(spec.get("autoSubscribe", True)),
                where,
                obj,
            )
        )
    return found


def load_cluster_stacks(
    config: RepoConfig,
) -> tuple[list[ClusterStack], list[ProviderTemplate], ProblemList]:
    """Every ClusterStack and provider template of the repository, and the problems found."""
    problems = ProblemList()
    base = config.root / config.cluster_stacks
    stacks: list[ClusterStack] = []
    templates: list[ProviderTemplate] = []
    if base.is_dir():
        for path in sorted(base.rglob("*")):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                try:
                    stacks.extend(_load_file(path, config, problems, templates))
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
    return [_with_provider(cs, templates, problems) for cs in stacks], templates, problems


def _with_provider(
    cs: ClusterStack, templates: list[ProviderTemplate], problems: ProblemList
) -> ClusterStack:
    """The ClusterStack with the template its ``providerRef`` names (a problem if absent)."""
    ref = cs.provider_ref
    if not ref:
        return cs
    template = providers.resolve(ref, cs.namespace, templates)
    if template is None:
        problems.add(
            cs.file,
            f"names {ref.get('kind')} {ref.get('name')!r}, which is not in "
            f"clusterstacks/ (namespace {cs.namespace})",
            field="spec.providerRef",
            hint="csops renders the provider's release objects from that template, as CSO "
            "does: add the template to clusterstacks/, or set noProvider: true",
        )
        return cs
    return dataclasses.replace(cs, provider=template)


def _identity(spec: dict[str, Any]) -> dict[str, str]:
    return {f: str(spec.get(f, STABLE if f == "channel" else "")) for f in IMMUTABLE}


def identity_changes(
    stacks: list[ClusterStack], previous: dict[tuple[str, str], dict[str, Any]]
) -> list[Problem]:
    """Immutable spec fields that differ from the last rendered ClusterStack of the same name.

    ``previous`` maps (namespace, name) to the spec of the ClusterStack last rendered. The
    cluster refuses such a change (CSO's webhook, csops's admission policy), so say it now.
    """
    problems = []
    for cs in stacks:
        before = previous.get((cs.namespace, cs.name))
        if before is None:
            continue
        old, new = _identity(before), _identity(cs.object.get("spec") or {})
        for name in IMMUTABLE:
            if old[name] != new[name]:
                problems.append(
                    Problem(
                        cs.file,
                        f"changes from {old[name]!r} to {new[name]!r}, but the field is "
                        "immutable: the cluster refuses the change",
                        field=f"spec.{name}",
                        hint="keep the value, or give the ClusterStack a new metadata.name; "
                        "csops prunes the old one once no Cluster uses its classes",
                    )
                )
    return problems


def channel_advice(stacks: list[ClusterStack]) -> list[Problem]:
    """Warnings for versions that do not correspond to a ``stable`` ClusterStack's channel.

    CSO documents that versions must correspond to the channel but accepts any valid one, and
    the channel is immutable; so this is advice, never a refusal.
    """
    return [
        Problem(
            cs.file,
            f"{version.dot} is not in the stable channel (v<major>) of this ClusterStack",
            field=f"spec.versions[{i}]",
            hint="CSO documents that versions correspond to the channel; "
            "new ClusterStacks listing other channels should use channel: custom",
        )
        for cs in stacks
        if cs.channel == STABLE
        for i, version in enumerate(cs.versions)
        if version.channel != STABLE
    ]
