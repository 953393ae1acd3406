"""Cluster API's real managers and CRDs on a loopback control plane (built by ``make capi``)."""

from csops.controlplane.clusterapi.assets import CapiAssets, locate_capi
from csops.controlplane.clusterapi.managers import ClusterApi, ManagerPorts

__all__ = ["CapiAssets", "ClusterApi", "ManagerPorts", "locate_capi"]
