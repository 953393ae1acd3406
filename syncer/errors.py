"""The syncer's error tree: every message names what failed and what to do about it.

::

    SyncError (csops.errors.CsopsError)
    ├── ApiError                 the API server answered with an error status
    │   ├── NotFoundError        the object, resource or API group does not exist
    │   └── UnreachableError     the API server could not be reached
    ├── FetchError               the git repository or local path could not be read
    ├── RevisionError            a revision's manifests are empty or unparsable
    ├── LeadershipLostError      the Lease was lost mid-pass; stopped before the next write
    ├── ServeError               an endpoint cannot be served (address taken, bad certificate)
    └── csops.syncer.addons.errors.AddonError   one cluster's addons cannot converge
"""

from __future__ import annotations

from csops.errors import CsopsError


class SyncError(CsopsError):
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


class FetchError(SyncError):
    """The git repository or local path could not be read or fetched."""


class RevisionError(SyncError):
    """A revision's manifests are empty or unparsable: nothing is applied or pruned."""


class LeadershipLostError(SyncError):
    """The leader lease was lost mid-pass: the pass stopped before its next write."""


class ServeError(SyncError):
    """An HTTP(S) endpoint cannot be served: its address is taken or its certificate unusable."""


def listen_failed(what: str, option: str, address: tuple[str, int], exc: OSError) -> ServeError:
    """The one-line error for an address that cannot be bound (busy, not local, no permission)."""
    host, port = address
    reason = exc.strerror or str(exc)
    return ServeError(
        f"cannot serve {what} on {host}:{port} ({option}): {reason}; "
        "choose a free port or stop what is listening there"
    )
