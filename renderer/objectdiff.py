"""Object-level diff of two rendered trees, for reviewers, commit messages and PR comments.

Pure: both trees come in as ``{path: bytes}`` relative to the output directory (the layout of
DESIGN §3). Objects are matched by identity (group, kind, namespace, name), not by path, so a
moved file is not an add plus a remove. Release bundles are compared by directory: a bundle
that appears is a new release, one that disappears or whose bytes differ breaks immutability.
New ClusterClasses are matched against the classes of the base tree to say where a Cluster
could now move (same provider and stack, same Kubernetes minor with a newer version, or the
next minor).
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from csops.renderer.manifests import RELEASES_ANNOTATION, Identity, identity
from csops.renderer.names import NamingError, StackId, class_to_release_name, parse_release_name
from csops.renderer.versions import HASH_CHANNEL, Version

MANIFESTS = "manifests/"
RELEASES = "releases/"
ADDED, CHANGED, REMOVED = "added", "changed", "removed"
_CLUSTER_CLASS = ("cluster.x-k8s.io", "ClusterClass")
_CLUSTER_STACK = ("clusterstack.x-k8s.io", "ClusterStack")
_MARKDOWN_BUDGET = 60_000  # GitHub refuses comments above 65,536 characters
_MARKER = "<!-- csops-diff -->"
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


# -- output ---------------------------------------------------------------------------------


def _kind(ident: Identity) -> str:
    return f"{ident.kind}.{ident.group}" if ident.group else ident.kind


def _where(ident: Identity) -> str:
    return f"{ident.namespace}/{ident.name}" if ident.namespace else ident.name


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(changes: TreeChanges) -> str:
    """One line: ``2 releases added, 5 objects added, 1 changed, 0 removed``."""
    if not changes:
        return "no changes"
    parts = []
    if changes.releases_added:
        parts.append(f"{_plural(len(changes.releases_added), 'release')} added")
    if changes.releases_removed:
        parts.append(f"{_plural(len(changes.releases_removed), 'release')} removed")
    if changes.releases_modified:
        parts.append(f"{_plural(len(changes.releases_modified), 'release')} MODIFIED")
    parts.append(
        f"{_plural(changes.count(ADDED), 'object')} added, {changes.count(CHANGED)} changed, "
        f"{changes.count(REMOVED)} removed"
    )
    return ", ".join(parts)


def to_text(changes: TreeChanges) -> str:
    """Plain text: a summary, releases, possible upgrades, one line per object, then diffs."""
    if not changes:
        return "No changes to the rendered tree.\n"
    lines = [summary(changes), ""]
    for label, names in (
        ("release added", changes.releases_added),
        ("release removed", changes.releases_removed),
    ):
        lines += [f"{label}: {name}" for name in names]
    for name, paths in sorted(changes.releases_modified.items()):
        lines.append(f"release modified (immutable!): {name}: {', '.join(paths)}")
    if changes.upgrades:
        lines.append("")
        lines.append("Clusters can now move:")
        lines += [
            f"  {u.namespace}: {u.from_class} -> {u.to_class} ({u.kind} upgrade)"
            for u in changes.upgrades
        ]
    lines.append("")
    marks = {ADDED: "+", CHANGED: "~", REMOVED: "-"}
    lines += [
        f"{marks[o.action]} {_kind(o.identity)} {_where(o.identity)}" for o in changes.objects
    ]
    text = "\n".join(lines) + "\n"
    diffs = [o.diff for o in changes.objects if o.diff]
    if diffs:
        text += "\n" + "".join(diffs)
    return text


def to_json(changes: TreeChanges) -> str:
    """Deterministic JSON."""
    return json.dumps(changes.to_json(), indent=2, sort_keys=True) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _fence(diff: str) -> str:
    fence = "```"
    while fence in diff:
        fence += "`"
    return f"{fence}diff\n{diff}{fence}\n"


def to_markdown(changes: TreeChanges, *, base: str = "base", head: str = "this change") -> str:
    """GitHub-flavoured Markdown for a pull-request comment (kept under GitHub's size limit)."""
    out = [_MARKER, f"### csops diff: `{base}` → {head}", ""]
    if not changes:
        out.append("No changes to the rendered tree.")
        return "\n".join(out) + "\n"
    out += [f"**{summary(changes)}**", ""]
    if changes.releases_modified:
        out.append("> [!CAUTION]")
        out.append("> Release bundles are immutable, but this change edits:")
        for name, paths in sorted(changes.releases_modified.items()):
            out.append(f"> - `{name}`: {', '.join(f'`{p}`' for p in paths)}")
        out.append("")
    if changes.releases_added or changes.releases_removed:
        out += ["| release | |", "|---|---|"]
        out += [f"| `{n}` | added |" for n in changes.releases_added]
        out += [f"| `{n}` | removed |" for n in changes.releases_removed]
        out.append("")
    if changes.upgrades:
        out += ["Clusters can now move:", "", "| namespace | from | to | |", "|---|---|---|---|"]
        out += [
            f"| {u.namespace} | `{u.from_class}` | `{u.to_class}` | {u.kind} upgrade |"
            for u in changes.upgrades
        ]
        out.append("")
    out += ["| | kind | namespace | name | releases |", "|---|---|---|---|---|"]
    icons = {ADDED: "➕", CHANGED: "✏️", REMOVED: "➖"}
    for o in changes.objects:
        ident = o.identity
        out.append(
            f"| {icons[o.action]} {o.action} | {_cell(_kind(ident))} | "
            f"{ident.namespace or '—'} | `{ident.name}` | {_cell(', '.join(o.releases))} |"
        )
    out.append("")
    used = sum(len(line) + 1 for line in out)
    omitted = 0
    for o in changes.objects:
        if not o.diff:
            continue
        block = (
            f"<details><summary>{_kind(o.identity)} <code>{_where(o.identity)}</code>"
            f"</summary>\n\n{_fence(o.diff)}\n</details>\n"
        )
        if used + len(block) > _MARKDOWN_BUDGET:
            omitted += 1
            continue
        out.append(block)
        used += len(block) + 1
    if omitted:
        out.append(
            f"_{_plural(omitted, 'diff')} left out to stay under GitHub's comment size limit; "
            "run `csops diff` locally for all of them._"
        )
    return "\n".join(out) + "\n"
