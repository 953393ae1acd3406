"""A real Kubernetes control plane (etcd + kube-apiserver [+ kube-controller-manager]) on loopback.

Used by the test suite (``controlplane.pytest_plugin``) and by ``csops dev-cluster``. The
binaries are built once per machine by ``make control-plane`` (hack/controlplane/build.py).
"""

from csops.controlplane.audit import AuditEvent, AuditLog, AuditWindow
from csops.controlplane.binaries import Binaries, locate_binaries
from csops.controlplane.crds import install_crds
from csops.controlplane.errors import BinariesNotFoundError, ControlPlaneError, StartupError
from csops.controlplane.server import ControlPlane

__all__ = [
    "AuditEvent",
    "AuditLog",
    "AuditWindow",
    "Binaries",
    "BinariesNotFoundError",
    "ControlPlane",
    "ControlPlaneError",
    "StartupError",
    "install_crds",
    "locate_binaries",
]
