"""Object-level diff of two rendered trees, for reviewers, commit messages and PR comments.

Pure: both trees come in as ``{path: bytes}`` relative to the output directory (the layout of
DESIGN §3). Objects are matched by identity (group, kind, namespace, name), not by path, so a
moved file is not an add plus a remove. Release bundles are compared by directory: a bundle
that appears is a new release, one that disappears or whose bytes differ breaks immutability.
New ClusterClasses are matched against the classes of the base tree to say where a Cluster
could now move (same provider and stack, same Kubernetes minor with a newer version, or the
next minor). Secret values are masked in the diffs (:mod:`csops.redact`): the output is
meant for pull-request comments.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import yaml

from csops import redact
from csops.renderer.manifests import RELEASES_ANNOTATION, Identity, identity
from csops.renderer.names import NamingError, StackId, class_to_release_name, parse_release_name
from csops.renderer.versions import HASH_CHANNEL, Version

MANIFESTS = "manifests/"
RELEASES = "releases/"
ADDED, CHANGED, REMOVED = "added", "changed", "removed"
_CLUSTER_CLASS = ("cluster.x-k8s.io", "ClusterClass")
_CLUSTER_STACK = ("clusterstack.x-k8s.io", "ClusterStack")
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class ObjectChange:
    """One object added, changed or removed, with a unified YAML diff when it changed."""

    action: str
    identity: Identity
    path: str
    releases: tuple[str, ...] = ()
    diff: str = ""

    def to_json(self) -> dict[str, Any]:
        """A plain dict for ``-o json``."""
        ident = self.identity
        return {
            "action": self.action,
            "group": ident.group,
            "kind": ident.kind,
            "namespace": ident.namespace,
            "name": ident.name,
            "path": self.path,
            "releases": list(self.releases),
            "diff": self.diff,
        }


@dataclass(frozen=True, order=True)
class Upgrade:
    """A Cluster on ``from_class`` could now move to the new ``to_class``."""

    namespace: str
    from_class: str
    to_class: str
    kind: str  # "version" (same Kubernetes minor) or "kubernetes" (next minor)


@dataclass(frozen=True)
class TreeChanges:
    """Everything that differs between two rendered trees."""

    objects: tuple[ObjectChange, ...] = ()
    releases_added: tuple[str, ...] = ()
    releases_removed: tuple[str, ...] = ()
    releases_modified: dict[str, tuple[str, ...]] = field(default_factory=dict)
    upgrades: tuple[Upgrade, ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.objects or self.releases_added or self.releases_removed or self.releases_modified
        )

    def count(self, action: str) -> int:
        """How many objects were ``added``, ``changed`` or ``removed``."""
        return sum(1 for o in self.objects if o.action == action)

    @property
    def stacks_changed(self) -> tuple[str, ...]:
        """Stack prefixes (``docker-alder-1-29``) whose objects or releases changed."""
        stacks: set[str] = set()
        names = [r for o in self.objects for r in o.releases]
        names += [*self.releases_added, *self.releases_removed, *self.releases_modified]
        for name in names:
            stack = _stack_of_release(name)
            if stack is not None:
                stacks.add(stack.prefix)
        for change in self.objects:
            ident = change.identity
            if (ident.group, ident.kind) == _CLUSTER_STACK:
                stacks.add(ident.name)
        return tuple(sorted(stacks))

    def to_json(self) -> dict[str, Any]:
        """A plain dict for ``-o json``."""
        return {
            "summary": {
                "added": self.count(ADDED),
                "changed": self.count(CHANGED),
                "removed": self.count(REMOVED),
                "stacksChanged": list(self.stacks_changed),
            },
            "releases": {
                "added": list(self.releases_added),
                "removed": list(self.releases_removed),
                "modified": {k: list(v) for k, v in sorted(self.releases_modified.items())},
            },
            "upgrades": [
                {"namespace": u.namespace, "from": u.from_class, "to": u.to_class, "kind": u.kind}
                for u in self.upgrades
            ],
            "objects": [o.to_json() for o in self.objects],
        }


def _stack_of_release(name: str) -> StackId | None:
    try:
        return parse_release_name(name)[0]
    except NamingError:
        return None


def _parse_class(name: str) -> tuple[StackId, Version] | None:
    try:
        return parse_release_name(class_to_release_name(name))
    except NamingError:
        return None


def _objects(files: dict[str, bytes]) -> dict[Identity, tuple[str, dict[str, Any], str]]:
    """Identity → (path, object, text) for every manifest; unparsable files keyed by path."""
    out: dict[Identity, tuple[str, dict[str, Any], str]] = {}
    for path in sorted(files):
        if not path.startswith(MANIFESTS):
            continue
        text = files[path].decode("utf-8", errors="replace")
        try:
            obj = yaml.load(text, Loader=_Loader)
        except yaml.YAMLError:
            obj = None
        if not isinstance(obj, dict):
            out[Identity("", "File", "", path)] = (path, {}, text)
            continue
        out[identity(obj)] = (path, obj, text)
    return out


def _releases_of(obj: dict[str, Any]) -> tuple[str, ...]:
    meta = obj.get("metadata") or {}
    value = str((meta.get("annotations") or {}).get(RELEASES_ANNOTATION, ""))
    return tuple(r for r in value.split(",") if r)


def _bundles(files: dict[str, bytes]) -> dict[str, dict[str, bytes]]:
    out: dict[str, dict[str, bytes]] = {}
    for path, data in files.items():
        if path.startswith(RELEASES):
            name, _, rest = path[len(RELEASES) :].partition("/")
            if rest:
                out.setdefault(name, {})[rest] = data
    return out


def release_edits(
    base: dict[str, bytes], current: dict[str, bytes]
) -> dict[str, dict[str, tuple[str, ...]]]:
    """Release bundles of ``base`` that ``current`` changed: name → {kind: files}.

    Kinds are ``deleted`` (the whole bundle), ``changed``, ``missing`` and ``added``.
    """
    old, new = _bundles(base), _bundles(current)
    edits: dict[str, dict[str, tuple[str, ...]]] = {}
    for name, files in sorted(old.items()):
        if name not in new:
            edits[name] = {"deleted": tuple(sorted(files))}
            continue
        now = new[name]
        found = {
            "changed": tuple(sorted(p for p in files if p in now and now[p] != files[p])),
            "missing": tuple(sorted(set(files) - set(now))),
            "added": tuple(sorted(set(now) - set(files))),
        }
        found = {k: v for k, v in found.items() if v}
        if found:
            edits[name] = found
    return edits


def _unified(old: str, new: str, path_old: str, path_new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{path_old}",
        tofile=f"b/{path_new}",
        n=3,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _upgrades(
    base_objects: dict[Identity, Any], new_objects: dict[Identity, Any]
) -> tuple[Upgrade, ...]:
    def classes(objs: dict[Identity, Any]) -> dict[Identity, tuple[StackId, Version]]:
        out = {}
        for ident in objs:
            if (ident.group, ident.kind) == _CLUSTER_CLASS:
                parsed = _parse_class(ident.name)
                if parsed is not None:
                    out[ident] = parsed
        return out

    before, after = classes(base_objects), classes(new_objects)
    found: set[Upgrade] = set()
    for target, (t_stack, t_version) in after.items():
        if target in before:
            continue
        for source, (s_stack, s_version) in before.items():
            if source.namespace != target.namespace or source == target:
                continue
            if (s_stack.provider, s_stack.name, s_stack.major) != (
                t_stack.provider,
                t_stack.name,
                t_stack.major,
            ):
                continue
            if t_stack.minor == s_stack.minor + 1:
                found.add(Upgrade(target.namespace, source.name, target.name, "kubernetes"))
            elif t_stack.minor == s_stack.minor and _newer(t_version, s_version):
                found.add(Upgrade(target.namespace, source.name, target.name, "version"))
    return tuple(sorted(found))


def _newer(new: Version, old: Version) -> bool:
    if new.channel != old.channel:
        return False
    if new.channel == HASH_CHANNEL:
        return new != old
    return new > old


def compare_trees(base: dict[str, bytes], new: dict[str, bytes]) -> TreeChanges:
    """What changes when the rendered tree ``base`` becomes ``new``."""
    before, after = _objects(base), _objects(new)
    changes: list[ObjectChange] = []
    for ident in sorted(set(before) | set(after)):
        if ident not in before:
            path, obj, _ = after[ident]
            changes.append(ObjectChange(ADDED, ident, path, _releases_of(obj)))
        elif ident not in after:
            path, obj, _ = before[ident]
            changes.append(ObjectChange(REMOVED, ident, path, _releases_of(obj)))
        else:
            old_path, old_obj, old_text = before[ident]
            new_path, new_obj, new_text = after[ident]
            if old_obj == new_obj and old_text == new_text:
                continue
            releases = tuple(sorted(set(_releases_of(old_obj)) | set(_releases_of(new_obj))))
            if redact.is_secret(old_obj) or redact.is_secret(new_obj):
                old_text, new_text = (
                    yaml.safe_dump(o, sort_keys=False) for o in redact.masked(old_obj, new_obj)
                )
            diff = _unified(old_text, new_text, old_path, new_path)
            changes.append(ObjectChange(CHANGED, ident, new_path, releases, diff))
    old_bundles, new_bundles = _bundles(base), _bundles(new)
    edits = release_edits(base, new)
    return TreeChanges(
        objects=tuple(changes),
        releases_added=tuple(sorted(set(new_bundles) - set(old_bundles))),
        releases_removed=tuple(sorted(set(old_bundles) - set(new_bundles))),
        releases_modified={
            name: tuple(p for paths in kinds.values() for p in paths)
            for name, kinds in edits.items()
            if "deleted" not in kinds
        },
        upgrades=_upgrades(before, after),
    )
