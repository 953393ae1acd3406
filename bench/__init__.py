"""The csops benchmark harness: ``python -m bench`` (``make bench``).

Cases register in :mod:`bench.registry` from their group modules (``bench.render_cases``);
see ``python -m bench --help`` and docs/benchmarks.md.
"""
