"""csops: render Cluster Stacks from git and sync them to a management cluster."""

from csops.version import VERSION as __version__

__all__ = ["__version__"]
