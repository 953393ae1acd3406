"""``csops status``: where syncing stands, per ClusterStack, once or as it changes (``--watch``)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import yaml

from csops import console, options
from csops.errors import CommandFailed
from csops.syncer.kube import Kube
from csops.syncer.overview import Overview, follow, overview
from csops.syncer.stackview import HEADERS, StackView


def _summary(found: Overview) -> str:
    state = found.state
    result = "synced" if state.get("ok") else "NOT synced"
    return (
        f"inventory {found.inventory}: {found.objects} objects, "
        f"revision {state.get('revision') or '-'}, last pass {result}"
    )


def _inventory_lines(found: Overview) -> list[str]:
    """What the last pass held back or failed on, beyond the ClusterStacks' own lines."""
    state = found.state
    lines = [
        f"failed: {oid}: {error}" for oid, error in sorted((state.get("failed") or {}).items())
    ]
    kept = state.get("keptInUse") or {}
    if kept:
        lines.append(f"kept in use: {len(kept)} objects (-o yaml lists them and their Clusters)")
    if state.get("pruneBlocked"):
        lines.append(f"prune blocked: {state['pruneBlocked']}")
    if state.get("healthError"):
        lines.append(f"health: {state['healthError']}")
    return lines


def _table(stacks: list[StackView], now: float, *, header: bool = True) -> None:
    """The table (``header``) or, for ``--watch``, rows only; each followed by its details."""
    console.table(HEADERS, [s.row(now) for s in stacks], header=header)
    for view in stacks:
        for line in view.details(now):
            click.echo(f"    {view.namespace}/{view.name}: {line}")


def _structured(data: object, fmt: str, *, stream: bool) -> None:
    """JSON or YAML; in a stream one JSON object per line, or YAML documents."""
    if not stream:
        console.structured(data, fmt)
    elif fmt == "json":
        click.echo(json.dumps(data, sort_keys=True))
    else:
        click.echo("---\n" + yaml.safe_dump(data, sort_keys=True).rstrip())


@click.command("status")
@options.kubeconfig()
@options.context
@options.namespace("Only ClusterStacks of this namespace (default: every namespace).")
@click.option("--name", default="csops", show_default=True, help="Inventory name used by the sync.")
@options.inventory_namespace()
@click.option(
    "-w", "--watch", is_flag=True, help="After the table, print each ClusterStack as it changes."
)
@options.output("output")
def status(  # noqa: PLR0917 - one parameter per click option
    kubeconfig: Path | None,
    context: str | None,
    namespace: str | None,
    name: str,
    inventory_namespace: str,
    watch: bool,
    output: str,
) -> None:
    """Where syncing stands: the last pass, and per ClusterStack its Ready condition, usable
    versions, latest release, last sync, releases kept in use (and by which Clusters) and
    drift put back.

    \b
    LAST SYNC is the last pass that changed the ClusterStack (a pass that changes nothing
    writes nothing); csops_sync_last_success_timestamp_seconds says when a pass last
    succeeded. Exit code 1 when nothing was synced yet.
    """
    kube = Kube.from_kubeconfig(kubeconfig, context=context)
    try:
        found = overview(kube, name, inventory_namespace, namespace)
        if not found.synced and not found.stacks:
            raise CommandFailed(
                f"no inventory {found.inventory} and no ClusterStacks: nothing synced yet"
            )
        if output == "text":
            click.echo(_summary(found))
            for line in _inventory_lines(found):
                click.echo(line)
            _table(found.stacks, time.time())
        else:
            _structured(found.to_dict(), output, stream=watch)
        if watch:
            _watch(kube, namespace, found.resource_version, output)
    finally:
        kube.close()


def _watch(kube: Kube, namespace: str | None, since: str, output: str) -> None:
    try:
        for event, view in follow(kube, namespace, since):
            if output == "text":
                _table([view], time.time(), header=False)
                if event == "DELETED":
                    click.echo(f"    {view.namespace}/{view.name}: deleted")
            else:
                _structured({"event": event, "clusterStack": view.to_dict()}, output, stream=True)
    except KeyboardInterrupt:
        return
