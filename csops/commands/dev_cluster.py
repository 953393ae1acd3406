"""``csops dev-cluster up|down|kubeconfig|status``: a local control plane for development.

The servers (etcd, kube-apiserver and, when built, kube-controller-manager) keep running after
the command returns; ``down`` stops them. Exit codes: 0 ok, 1 failure, 2 usage.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from csops.errors import CommandFailed

if TYPE_CHECKING:
    from csops.controlplane.devcluster import DevCluster


def _cluster() -> DevCluster:
    """The dev cluster; its control-plane code needs the ``dev`` extra (``cryptography``)."""
    try:
        from csops.controlplane.devcluster import DevCluster
    except ModuleNotFoundError as exc:
        raise CommandFailed(
            f"csops dev-cluster needs {exc.name}: pip install 'csops[dev]'"
        ) from exc
    return DevCluster()


@click.group("dev-cluster")
def dev_cluster() -> None:
    """Run a local Kubernetes control plane (no nodes) with Cluster API on it."""


@dev_cluster.command()
@click.option("--port", type=click.IntRange(1, 65535), help="kube-apiserver port on 127.0.0.1.")
@click.option(
    "--controller-manager/--no-controller-manager",
    default=None,
    help="Run kube-controller-manager (default: when it is built).",
)
@click.option(
    "--capi/--no-capi",
    "capi",
    default=True,
    show_default=True,
    help="Run Cluster API (core with ClusterTopology and RuntimeSDK, kubeadm, CAPD) with its "
    "real CRDs and webhooks; built by `make capi`.",
)
def up(port: int | None, controller_manager: bool | None, capi: bool) -> None:
    """Start the dev cluster in the background (idempotent).

    With Cluster API (the default) a Cluster created on a synced ClusterClass gets its
    topology: KubeadmControlPlane, DockerCluster, MachineDeployments.
    """
    cluster = _cluster()
    started = cluster.up(port=port, controller_manager=controller_manager, cluster_api=capi)
    status = cluster.status()
    if started:
        click.echo(f"dev cluster is up at {status.url}")
    else:
        click.echo(f"dev cluster is already running at {status.url}")
    if status.cluster_api:
        click.echo(f"Cluster API {status.cluster_api}: controllers and webhooks running")
    click.echo(f"kubeconfig: {status.kubeconfig}")
    click.echo(f"  export KUBECONFIG={status.kubeconfig}")


@dev_cluster.command()
@click.option("--purge", is_flag=True, help="Also delete its data, certificates and kubeconfig.")
def down(purge: bool) -> None:
    """Stop the dev cluster (its data is kept unless --purge)."""
    cluster = _cluster()
    stopped = cluster.down(purge=purge)
    if stopped:
        click.echo(f"stopped {', '.join(stopped)}")
    else:
        click.echo("dev cluster was not running")
    if purge:
        click.echo(f"removed {cluster.directory}")


@dev_cluster.command()
def kubeconfig() -> None:
    """Print the path of the dev cluster's kubeconfig."""
    path = _cluster().kubeconfig_path
    if not path.is_file():
        raise CommandFailed("no dev cluster kubeconfig yet; run `csops dev-cluster up`")
    click.echo(str(path))


@dev_cluster.command()
def status() -> None:
    """Show whether the dev cluster runs (exit 0 when ready, 1 otherwise)."""
    current = _cluster().status()
    if not current.running:
        click.echo("dev cluster is not running")
        if current.pids:
            click.echo(f"  leftover processes: {current.pids} (run `csops dev-cluster down`)")
        raise CommandFailed()
    state = "ready" if current.ready else "running, not ready"
    click.echo(f"dev cluster is {state} at {current.url}")
    if current.cluster_api:
        click.echo(f"Cluster API {current.cluster_api} is running")
    click.echo(f"kubeconfig: {current.kubeconfig}")
    for name, pid in sorted(current.pids.items()):
        click.echo(f"  {name}: pid {pid}")
    if not current.ready:
        raise CommandFailed()
