"""Fixtures for compatibility tests: the syncer's stacks repository on the real API server."""

from __future__ import annotations

from tests.syncer.conftest import csops_kubeconfig, kube, stacks_repo, sync_config

__all__ = ["csops_kubeconfig", "kube", "stacks_repo", "sync_config"]
