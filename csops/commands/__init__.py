"""One module per command group of the ``csops`` CLI."""
