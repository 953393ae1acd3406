"""The error tree of the control-plane package; every message says what to do next."""

from __future__ import annotations

from csops.errors import CsopsError


class ControlPlaneError(CsopsError):
    """Base class: anything that went wrong starting, using or stopping a control plane."""


class BinariesNotFoundError(ControlPlaneError):
    """etcd or kube-apiserver is neither named by the environment nor built into the cache."""


class StartupError(ControlPlaneError):
    """A server process exited early or did not become ready in time (message has log tails)."""


class CrdError(ControlPlaneError):
    """A CRD could not be installed or did not become Established."""
