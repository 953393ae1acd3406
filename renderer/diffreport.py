"""How an object-level diff of two rendered trees reads: text for a terminal, Markdown for a
pull-request comment (kept under GitHub's size limit), JSON for tools. Pure.
"""

from __future__ import annotations

import json

from csops.renderer.manifests import Identity
from csops.renderer.objectdiff import ADDED, CHANGED, REMOVED, TreeChanges

_MARKDOWN_BUDGET = 60_000  # GitHub refuses comments above 65,536 characters
_MARKER = "<!-- csops-diff -->"


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
