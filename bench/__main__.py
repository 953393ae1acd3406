"""``python -m bench``: run the benchmark cases, write results and docs/benchmarks.md."""

import sys

from bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
