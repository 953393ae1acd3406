"""``csops-git-ssh``: the ssh program git runs for a private SSH remote, without a shell.

git runs ``GIT_SSH_COMMAND`` through ``/bin/sh`` but executes ``GIT_SSH`` directly, and the
csops image needs no shell; so :mod:`csops.gitcredentials` points ``GIT_SSH`` at this program
and puts the options (file paths, never a key) in ``CSOPS_GIT_SSH_OPTIONS``, a JSON list this
program puts before git's own arguments when it execs ``ssh``.
"""

from __future__ import annotations

import json
import os
import sys

OPTIONS_VARIABLE = "CSOPS_GIT_SSH_OPTIONS"
PROGRAM = "csops-git-ssh"


def main() -> None:
    options = json.loads(os.environ.get(OPTIONS_VARIABLE) or "[]")
    os.execvp("ssh", ["ssh", *map(str, options), *sys.argv[1:]])
