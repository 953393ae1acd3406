#!/usr/bin/env python3
"""``make demo``: the whole product on the example stacks, step by step, in about a minute.

Renders ``stacks/`` from scratch in a scratch copy (the committed tree is not touched), starts
a private local control plane, syncs the rendered tree into it, shows what a user would look
at, runs a second pass and counts its writes in the API server's audit log (zero), then stops
the control plane. Each step prints the command it runs, what it printed and how long it took.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from csops.controlplane.audit import AuditLog

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STEPS = 7


class Demo:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.stacks = work / "stacks"
        self.env = {**os.environ, "XDG_STATE_HOME": str(work / "state")}
        self.env.pop("KUBECONFIG", None)
        self.step = 0
        self.colour = sys.stdout.isatty()

    def title(self, text: str) -> None:
        self.step += 1
        line = f"[{self.step}/{STEPS}] {text}"
        print(f"\n\033[1m{line}\033[0m" if self.colour else f"\n{line}", flush=True)

    def run(self, *argv: str | Path, quiet: bool = False) -> str:
        shown = " ".join(
            str(a).replace(str(self.work), "$DEMO").removeprefix(f"{BIN}/") for a in argv
        )
        print(f"$ {shown}", flush=True)
        started = time.monotonic()
        done = subprocess.run(
            [str(a) for a in argv], env=self.env, capture_output=True, text=True, check=False
        )
        output = (done.stdout + done.stderr).replace(str(self.work), "$DEMO").rstrip()
        if output and not quiet:
            print(output, flush=True)
        print(f"  ({time.monotonic() - started:.1f} s)", flush=True)
        if done.returncode != 0:
            if quiet:
                print(output, flush=True)
            raise SystemExit(f"demo: `{shown}` failed (exit {done.returncode})")
        return done.stdout

    def kubeconfig(self) -> str:
        return self.run(BIN / "csops", "dev-cluster", "kubeconfig", quiet=True).strip()


def main() -> int:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="csops-demo-"))
    print(f"csops demo: working in {work} ($DEMO below); the repository is not changed")
    demo = Demo(work)
    csops = BIN / "csops"
    shutil.copytree(REPO / "stacks", demo.stacks, ignore=shutil.ignore_patterns("rendered"))
    up = False
    try:
        demo.title("validate the example stacks (schemas, names, versions, every chart)")
        demo.run(csops, "validate", demo.stacks)

        demo.title("render from scratch: cut releases, render through Helm, write the tree")
        demo.run(csops, "render", demo.stacks)
        demo.run(csops, "ls", demo.stacks)

        demo.title("start a local management cluster (etcd, kube-apiserver, Cluster API with CAPD)")
        up = True
        demo.run(csops, "dev-cluster", "up")
        demo.env["KUBECONFIG"] = demo.kubeconfig()

        demo.title("sync the rendered manifests into it (server-side apply, status)")
        demo.run(csops, "sync", demo.stacks, "--once")

        demo.title("look at it as a user would")
        demo.run(BIN / "kubectl", "get", "clusterstacks,clusterstackreleases,clusterclasses", "-A")

        demo.title("sync again: nothing changed, so nothing is written")
        audit = AuditLog(work / "state" / "csops" / "dev-cluster" / "logs" / "audit.log")
        before = audit.size()
        demo.run(csops, "sync", demo.stacks, "--once")
        writes = [
            e
            for e in audit.events_between(before)
            # not the API server's own controllers, nor Cluster API's (capi-<provider>)
            if e.is_write and not e.user.startswith(("system:", "capi-"))
        ]
        print(f"writes by csops in the audit log during this pass: {len(writes)}")
        for event in writes:
            print(f"  {event.verb} {event.request_uri}")

        demo.title("stop the control plane")
        demo.run(csops, "dev-cluster", "down", "--purge")
        up = False
    finally:
        if up:
            subprocess.run([csops, "dev-cluster", "down", "--purge"], env=demo.env, check=False)
        shutil.rmtree(work, ignore_errors=True)
    print(f"\ncsops demo: done in {time.monotonic() - started:.0f} s")
    return 0 if not writes else 1


if __name__ == "__main__":
    sys.exit(main())
