"""The render: stack sources and ClusterStacks in, the rendered tree of DESIGN §3 out.

Order of work: read the existing tree and its lock, refuse if a release bundle was altered,
decide each source's version against the ledger, build bundles for new releases (and check
their addons render), render each ClusterStack's releases into its namespace (reusing what an
unchanged release produced before), assemble one object per file, and compare with what is
on disk. Nothing is written here; :func:`write` writes the tree all or nothing
(:mod:`csops.renderer.tree`).

Longer than our modules usually are, on purpose: it is the one place that orders the steps of a
render and threads the problems and warnings through them. The steps themselves live in their
own modules (``offers``, ``assembly``, ``lock``, ``tree``, ``bundles``, ``providers``,
``admission``); what stays here is the order and the objects only a render builds.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csops import redact
from csops.gitrepo import SourceCommit, source_commit
from csops.renderer import (
    addons,
    admission,
    bundles,
    classrules,
    clusterclass,
    crds,
    documents,
    helm,
    ledger,
    lock,
    manifests,
    providers,
    released,
    tree,
)
from csops.renderer.assembly import Assembler
from csops.renderer.bundles import STANDALONE_IMAGES
from csops.renderer.clusterstacks import (
    ClusterStack,
    channel_advice,
    identity_changes,
    load_cluster_stacks,
)
from csops.renderer.config import CONFIG_FILE, MODES, RepoConfig, load_config
from csops.renderer.custom import CustomVersions
from csops.renderer.errors import (
    Problem,
    ProblemList,
    RendererError,
    SourceError,
)
from csops.renderer.hashes import StackHashes
from csops.renderer.ledger import Release
from csops.renderer.offers import Offer, offers_of
from csops.renderer.sources import CLASS_DIR, NODE_IMAGES_FILE, StackSource, load_sources
from csops.renderer.tree import MANIFESTS_DIR, RELEASES_DIR

_STACK_OBJECTS = "clusterstack.clusterstack.x-k8s.io"


@dataclass
class RenderResult:
    """A finished render, not yet written."""

    config: RepoConfig
    files: dict[str, bytes]
    existing: dict[str, bytes]
    new_releases: list[str] = field(default_factory=list)
    releases: dict[str, Release] = field(default_factory=dict)
    offers: list[Offer] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    helm_renders: int = 0

    @property
    def diff(self) -> tree.TreeDiff:
        """How the rendered tree on disk differs from this render."""
        return tree.compare(self.existing, self.files)


def _render_class(
    release: Release, namespace: str, display: str
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Render a release's cluster-class chart into a namespace, as CSO does, and check it."""
    problems = ProblemList()
    files = helm.render_chart(
        release.class_chart(),
        release_name=release.stack.prefix,
        namespace=namespace,
        kube_version=release.versions.kubernetes,
        display=display,
    )
    objects = manifests.parse_files(files, display, problems)
    standalone = release.directory / STANDALONE_IMAGES
    if standalone.is_file():
        where = f"{display}/../{STANDALONE_IMAGES}"
        objects += manifests.parse_text(documents.read_text(standalone, where), where, problems)
    warnings = manifests.place(objects, namespace, manifests.scoped_kinds(objects))
    seen: set[manifests.Identity] = set()
    for obj in objects:
        ident = manifests.identity(obj)
        if redact.has_values(obj):
            warnings.append(
                Problem(
                    display,
                    f"renders {ident} with data into the committed tree: anyone who can "
                    "read the repository reads it",
                    hint="keep secret values out of git: an external or sealed secret, "
                    "or a Secret created in the cluster",
                )
            )
        if ident in seen:
            problems.add(display, f"renders {ident} twice", hint="object identities must be unique")
        seen.add(ident)
    problems.extend(
        clusterclass.check_names(objects, release.stack.class_name(release.version), display)
    )
    problems.extend(clusterclass.check_references(objects, display))
    problems.extend(classrules.check(objects, display))
    problems.raise_if_any(SourceError)
    return objects, warnings


def _node_images_object(release: Release, namespace: str) -> dict[str, Any] | None:
    path = release.directory / NODE_IMAGES_FILE
    if not path.is_file():
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{release.name}-node-images", "namespace": namespace},
        "data": {NODE_IMAGES_FILE: documents.read_text(path, f"{release.name}/{NODE_IMAGES_FILE}")},
    }


def _release_objects(release: Release, namespace: str, cs: ClusterStack) -> list[dict[str, Any]]:
    """The ClusterStackRelease, and before it the provider's release object when one is used."""
    spec: dict[str, Any] = {}
    objects = []
    if cs.provider is not None:
        provider = providers.release_object(cs.provider, release.name, cs.object)
        spec["providerRef"] = providers.reference_to(provider)
        objects.append(provider)
    objects.append(
        {
            "apiVersion": "clusterstack.x-k8s.io/v1alpha1",
            "kind": "ClusterStackRelease",
            "metadata": {
                "name": release.name,
                "namespace": namespace,
                "labels": {"clusterstack.x-k8s.io/clusterstack": cs.name},
            },
            "spec": spec,
        }
    )
    return objects


def _namespace_object(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "annotations": {manifests.PRUNE_ANNOTATION: "disabled"}},
    }


@dataclass
class _Cut:
    """Releases cut from the current sources in this render."""

    bundles: dict[str, dict[str, bytes]] = field(default_factory=dict)
    sources: dict[str, StackSource] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)

    def display(self, release: Release, out: str) -> str:
        """Where errors in a release's class chart point: the source for new releases."""
        if release.name in self.sources:
            return f"{self.sources[release.name].display}/{CLASS_DIR}"
        return f"{out}/{RELEASES_DIR}/{release.name}/{CLASS_DIR}"


def _existing_problem(
    source: StackSource, existing: Release, planned: ledger.Plan, mode: str, hashes: StackHashes
) -> Problem | None:
    """Why a release that exists under the planned name cannot stand for the source, if so."""
    same_files = existing.hashes.release_key() == hashes.release_key()
    same_k8s = existing.versions.kubernetes == str(source.kubernetes)
    if mode == "custom" and not (same_files and same_k8s and existing.versions == planned.versions):
        return Problem(
            source.display,
            f"release {existing.name} exists with other contents or versions; releases are "
            "immutable",
            hint="give another cluster-stack version (custom mode), or restore the source",
        )
    if mode == "hash" and not same_files:
        return Problem(
            source.display,
            f"release {existing.name} exists with other contents",
            hint="hash collision or a hand-made bundle; remove the bundle from the tree",
        )
    if not same_k8s:
        return Problem(
            source.display,
            f"release {existing.name} has Kubernetes {existing.versions.kubernetes}, "
            f"the source now resolves to {source.kubernetes}",
            hint="the sources are unchanged, so hash mode gives the same version; "
            "change the stack or use stable mode to cut a new release",
        )
    return None


def _cut_releases(
    sources: list[StackSource],
    releases: dict[str, Release],
    mode: str,
    custom: Mapping[str, CustomVersions],
    *,
    workdir: Path,
    problems: ProblemList,
) -> _Cut:
    """Build a bundle for every source whose state is not released yet; check its addons."""
    cut = _Cut()
    for source in sources:
        hashes = bundles.source_hashes(source)
        planned = ledger.plan(
            source.stack,
            str(source.kubernetes),
            hashes,
            releases,
            mode,
            custom=custom.get(source.stack.prefix),
        )
        if planned.existing is not None:
            problem = _existing_problem(source, planned.existing, planned, mode, hashes)
            if problem is not None:
                problems.extend([problem])
            continue
        if mode == "custom" and source.stack.prefix not in custom:
            problems.add(
                source.display,
                f"custom mode: no versions for {source.stack.prefix}, and no release has "
                "this state of the source",
                hint=f"pass --stack {source.stack.prefix} --cluster-stack-version V "
                "--cluster-addon-version V --node-image-version V, or add "
                f"customVersions.{source.stack.prefix} to csops.yaml",
            )
            continue
        name = source.stack.release_name(planned.versions.cluster_stack)
        try:
            files, warnings = bundles.build_bundle(source, planned.versions, hashes)
        except RendererError as exc:
            problems.extend(exc.problems)
            continue
        cut.warnings.extend(warnings)
        directory = workdir / name
        bundles.write_bundle(files, directory)
        cut.bundles[name] = files
        cut.sources[name] = source
        releases[name] = Release(name, source.stack, planned.versions, hashes, directory)
        found, warned = addons.check_release_addons(
            directory,
            source.stack.class_name(planned.versions.cluster_stack),
            planned.versions.kubernetes,
            source.display,
        )
        problems.extend(found)
        cut.warnings.extend(warned)
    return cut


def _lint_new_class(cut: _Cut, name: str, objects: list[dict[str, Any]]) -> list[Problem]:
    source = cut.sources[name]
    return clusterclass.unescaped_templates(
        source.class_dir, clusterclass.variables_of(objects), f"{source.display}/{CLASS_DIR}"
    )


def _render_offers(
    offers: list[Offer],
    cut: _Cut,
    *,
    reusable: dict[str, list[str]],
    existing: dict[str, bytes],
    assembler: Assembler,
    result: RenderResult,
    problems: ProblemList,
) -> dict[str, list[str]]:
    """Render (or reuse) each offered release into its namespace; returns the lock's index."""
    index: dict[str, list[str]] = {}
    linted: set[str] = set()
    out = result.config.output
    for offer in offers:
        release = offer.release
        display = cut.display(release, out)
        reused = None if release.name in cut.bundles else reusable.get(offer.key)
        paths: list[str] = []
        objects: list[dict[str, Any]] = []
        if reused is not None:
            paths = [
                assembler.add_reused(p, existing[f"{MANIFESTS_DIR}/{p}"], display, release.name)
                for p in reused
            ]
        else:
            try:
                objects, moved = _render_class(release, offer.namespace, display)
            except RendererError as exc:
                problems.extend(exc.problems)
                continue
            result.helm_renders += 1
            result.warnings.extend(moved)
            if release.name in cut.sources and release.name not in linted:
                linted.add(release.name)
                result.warnings.extend(_lint_new_class(cut, release.name, objects))
            node_images = _node_images_object(release, offer.namespace)
            objects = objects + ([node_images] if node_images else [])
        objects = [*objects, *_release_objects(release, offer.namespace, offer.cluster_stack)]
        paths += [assembler.add(obj, display, release.name) for obj in objects]
        index[offer.key] = sorted(paths)
    return index


def _check_unoffered(
    offers: list[Offer],
    cut: _Cut,
    releases: dict[str, Release],
    result: RenderResult,
    problems: ProblemList,
) -> None:
    """New releases no ClusterStack offers still have to render, so their errors show now."""
    for name in sorted(set(cut.bundles) - {o.release.name for o in offers}):
        try:
            objects, _ = _render_class(
                releases[name], result.config.default_namespace, cut.display(releases[name], "")
            )
        except RendererError as exc:
            problems.extend(exc.problems)
            continue
        result.helm_renders += 1
        result.warnings.extend(_lint_new_class(cut, name, objects))


def _warn_unoffered_sources(
    sources: list[StackSource], cluster_stacks: list[ClusterStack], warnings: list[Problem]
) -> None:
    offered = {cs.stack for cs in cluster_stacks}
    for source in sources:
        if source.stack not in offered:
            warnings.append(
                Problem(
                    source.display,
                    f"no ClusterStack offers {source.stack.prefix}; its releases are cut but "
                    "not rendered into manifests",
                )
            )


def _base_objects(
    assembler: Assembler,
    cluster_stacks: list[ClusterStack],
    templates: list[providers.ProviderTemplate],
) -> None:
    """CRDs, the namespaces ClusterStacks live in, the ClusterStacks and provider templates."""
    for crd in crds.all_crds():
        assembler.add(crd, "csops")
    namespaces = {cs.namespace for cs in cluster_stacks} | {t.namespace for t in templates}
    for ns in sorted(namespaces):
        assembler.add(_namespace_object(ns), "csops")
    for cs in cluster_stacks:
        assembler.add(cs.object, cs.file)
    for template in templates:
        assembler.add(template.object, template.file)


def _admission_objects(assembler: Assembler, offers: list[Offer], config: RepoConfig) -> None:
    """The policies guarding Clusters and ClusterStacks, with the classes offered as table."""
    classes = {
        admission.GuardedClass(
            o.namespace,
            o.release.stack.class_name(o.release.version),
            o.release.versions.kubernetes,
        )
        for o in offers
    }
    for obj in admission.objects(config.admission, classes):
        assembler.add(obj, CONFIG_FILE)


def _custom_versions(
    config: RepoConfig, sources: list[StackSource], given: tuple[str | None, CustomVersions] | None
) -> dict[str, CustomVersions]:
    """csops.yaml's custom versions, with those of the command line for one stack on top."""
    versions = dict(config.custom_versions)
    if given is None:
        return versions
    stack, custom = given
    prefixes = sorted(s.stack.prefix for s in sources)
    if stack is None and len(prefixes) == 1:
        stack = prefixes[0]
    if stack is None or stack not in prefixes:
        raise SourceError(
            Problem(
                "command line",
                f"--stack {stack}: no such stack" if stack else "--stack is required",
                hint=f"stacks: {', '.join(prefixes) or 'none'}",
            )
        )
    versions[stack] = custom
    return versions


def render_repo(
    root: Path,
    *,
    mode: str | None = None,
    out: Path | None = None,
    full: bool = False,
    custom: tuple[str | None, CustomVersions] | None = None,
) -> RenderResult:
    """Render a stacks repository; raise RendererError with every problem found.

    Reads the configuration and where the repository stands in git first; :func:`render`
    does the rest with both as data. ``custom`` gives custom-mode versions for one stack
    (``None``: the only one).
    """
    config = load_config(root)
    if out is not None:
        config = dataclasses.replace(config, output=str(out.resolve()))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csops-git") as pool:
        source = pool.submit(source_commit, config.root, config.output_dir)  # git, meanwhile
        return render(config, mode=mode, full=full, source=source, custom=custom)


def render(
    config: RepoConfig,
    *,
    mode: str | None = None,
    full: bool = False,
    source: SourceCommit | Future[SourceCommit | None] | None,
    custom: tuple[str | None, CustomVersions] | None = None,
) -> RenderResult:
    """Render the repository ``config`` describes; ``source`` is recorded in the lock (it
    may still be being read: it is waited for at the end)."""
    mode = mode or config.version_mode
    if mode not in MODES:
        raise SourceError(
            Problem(
                "csops.yaml",
                f"unknown version mode {mode!r}",
                field="versionMode",
                hint="use stable, hash or custom",
            )
        )
    if custom is not None and mode != "custom":
        raise SourceError(
            Problem(
                "command line",
                f"custom versions were given, but the version mode is {mode}",
                hint="add --mode custom",
            )
        )
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="csops-git") as pool:
        history = pool.submit(released.committed_bundles, config)  # git, while the tree is read
        existing = tree.read_tree(config.output_dir, config.output)
        old = lock.parse(existing.get(lock.LOCK_FILE), f"{config.output}/{lock.LOCK_FILE}")
        committed = released.committed_problems(config, existing, history.result())
    digests = tree.Digests(existing)
    lock.check_immutable(existing, old, config.output, committed, digests)
    releases = ledger.read_ledger(
        config.output_dir / RELEASES_DIR,
        f"{config.output}/{RELEASES_DIR}",
        {
            p.removeprefix(f"{RELEASES_DIR}/"): d
            for p, d in existing.items()
            if p.startswith(f"{RELEASES_DIR}/")
        },
    )
    sources = load_sources(config)
    cluster_stacks, templates, problems = load_cluster_stacks(config)
    result = RenderResult(config, {}, existing)

    with tempfile.TemporaryDirectory(prefix="csops-render-") as tmp:
        cut = _cut_releases(
            sources,
            releases,
            mode,
            _custom_versions(config, sources, custom),
            workdir=Path(tmp),
            problems=problems,
        )
        problems.raise_if_any()
        result.warnings.extend(cut.warnings)
        result.new_releases = list(cut.bundles)
        offers = offers_of(
            cluster_stacks, releases, {s.stack: s for s in sources}, problems, result.warnings
        )
        _check_stacks(cluster_stacks, existing, config, problems, result.warnings)
        problems.raise_if_any()
        _warn_unoffered_sources(sources, cluster_stacks, result.warnings)
        assembler = Assembler(lock.previous_owners(old))
        _base_objects(assembler, cluster_stacks, templates)
        _admission_objects(assembler, offers, config)
        index = _render_offers(
            offers,
            cut,
            reusable=lock.reusable(old, existing, full, digests),
            existing=existing,
            assembler=assembler,
            result=result,
            problems=problems,
        )
        problems.extend(assembler.problems.problems)
        _check_unoffered(offers, cut, releases, result, problems)
        problems.raise_if_any()

    files = assembler.files()
    files.update({p: d for p, d in existing.items() if p.startswith(f"{RELEASES_DIR}/")})
    for name, bundle in cut.bundles.items():
        files.update({f"{RELEASES_DIR}/{name}/{rel}": data for rel, data in bundle.items()})
    if isinstance(source, Future):
        source = source.result()
    files[lock.LOCK_FILE] = lock.build(
        files, releases=releases, manifest_index=index, old=old, source=source, known=digests
    )
    result.files = files
    result.releases = releases
    result.offers = offers
    return result


def _check_stacks(
    cluster_stacks: list[ClusterStack],
    existing: dict[str, bytes],
    config: RepoConfig,
    problems: ProblemList,
    warnings: list[Problem],
) -> None:
    """What the cluster's admission would say about the ClusterStacks: refusals and advice."""
    warnings.extend(channel_advice(cluster_stacks))
    changed = identity_changes(cluster_stacks, _rendered_stacks(existing))
    if config.admission.enabled and "Deny" in config.admission.actions:
        problems.extend(changed)
    else:
        warnings.extend(changed)


def _rendered_stacks(existing: dict[str, bytes]) -> dict[tuple[str, str], dict[str, Any]]:
    """The spec of every ClusterStack in the rendered tree on disk, by (namespace, name)."""
    found = {}
    for path, data in existing.items():
        if f"/{_STACK_OBJECTS}/" not in path:
            continue
        parts = path.split("/")
        if len(parts) == 4 and parts[0] == MANIFESTS_DIR and parts[2] == _STACK_OBJECTS:
            obj = documents.loads_one(data.decode(), path) or {}
            found[(parts[1], parts[3].removesuffix(".yaml"))] = obj.get("spec") or {}
    return found


def write(result: RenderResult) -> bool:
    """Write the render if it differs from disk; returns whether anything was written."""
    if not result.diff:
        return False
    tree.write_tree(result.config.output_dir, result.files, result.existing)
    return True
