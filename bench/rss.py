"""Peak RSS of one full render + write, in a fresh interpreter: ``python -m bench.rss ROOT``.

Prints one JSON line: ``maxrss_kib`` (``ru_maxrss`` at the end, the Helm engine included, as
it runs in-process) and ``baseline_kib`` (after the imports, before the render).
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """Render ``argv[0]`` with ``full=True``, write it, report peak RSS."""
    from csops import renderer

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = renderer.render_repo(Path(argv[0]), full=True)
    renderer.write(result)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"maxrss_kib": peak, "baseline_kib": baseline, "helm_renders": result.helm_renders}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
