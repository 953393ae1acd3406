"""csops: the command-line front of the renderer and the syncer."""

__version__ = "0.1.0"
