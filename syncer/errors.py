"""The syncer's error tree: every message names what failed and what to do about it."""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error the syncer reports to a user."""


class ApiError(SyncError):
    """The API server answered with an error status."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class NotFoundError(ApiError):
    """The object, resource or API group does not exist."""


class UnreachableError(ApiError):
    """The API server could not be reached (connection refused, timeout, TLS)."""


class SourceError(SyncError):
    """The git repository or local path could not be read or fetched."""


class RevisionError(SyncError):
    """A revision's manifests are empty or unparsable: nothing is applied or pruned."""


class HealthTimeoutError(SyncError):
    """Objects did not become Current within the wait timeout."""


class HealthFailedError(SyncError):
    """An object reached a Failed status (fail-fast)."""


class CancelledError(SyncError):
    """A wait was cancelled because a newer revision arrived."""


class LeadershipLostError(SyncError):
    """The leader lease was lost mid-pass: the pass stopped before its next write."""
