"""Run a command and report its own peak RSS: ``python -m bench.childrss OUT.json -- ARGV…``.

A child's ``ru_maxrss`` on Linux starts from the resident size of the process that forked it
(``execve`` keeps the high-water mark of the replaced address space), so a large harness
process would inflate the figure. This launcher is a small, fresh interpreter: the command is
forked from it, reaped with ``wait4``, and its ``ru_maxrss`` (KiB) and exit code are written
to ``OUT.json``. The launcher's exit code is the command's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    """``OUT.json -- ARGV…``: run ARGV, write ``{"maxrss_kib", "code"}`` to OUT.json."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m bench.childrss OUT.json -- ARGV…", file=sys.stderr)
        return 2
    proc = subprocess.Popen(argv[2:])
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    Path(argv[0]).write_text(json.dumps({"maxrss_kib": usage.ru_maxrss, "code": code}))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
