"""The syncer: reconcile a management cluster toward the rendered tree."""
