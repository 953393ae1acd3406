#!/usr/bin/env python3
"""Build kube-apiserver, etcd and kube-controller-manager through the Go module proxy.

Standard library only. The binaries land in a per-user cache keyed by version:

    ${XDG_CACHE_HOME:-~/.cache}/csops/controlplane/<k8s>-etcd<ver>-go<ver>/bin/

with the Go module and build caches under ``${XDG_CACHE_HOME:-~/.cache}/csops/go/`` so an
interrupted build resumes where it stopped. A stamp file makes a warm run a no-op, and an
exclusive ``flock`` keeps concurrent callers from building twice.

The pinned versions live in ``controlplane/versions.json`` (read by the Python package too).
The wrapper module is generated in the cache directory from ``go.mod.tmpl`` next to this file;
its ``replace`` list is taken from the chosen release's own go.mod, never typed by hand.

Overrides (nothing is built when they name existing binaries):
  KUBEBUILDER_ASSETS                  a directory holding ``etcd`` and ``kube-apiserver``
  CSOPS_ETCD, CSOPS_KUBE_APISERVER    explicit paths (CSOPS_KUBE_CONTROLLER_MANAGER optional)
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shutil
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VERSIONS_FILE = REPO / "controlplane" / "versions.json"
TEMPLATE_FILE = HERE / "go.mod.tmpl"
STAMP_NAME = ".stamp.json"

APISERVER_PKG = "k8s.io/kubernetes/cmd/kube-apiserver"
CONTROLLER_MANAGER_PKG = "k8s.io/kubernetes/cmd/kube-controller-manager"
ETCD_PKG = "go.etcd.io/etcd/server/v3"
STAGING_REPLACE = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/src/(k8s\.io/[\w.-]+)\s*$")


class BuildError(Exception):
    """A build step failed; the message says which and how to retry."""


def say(message: str) -> None:
    print(f"[control-plane] {message}", flush=True)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "csops"


def load_versions() -> dict[str, str]:
    data = json.loads(VERSIONS_FILE.read_text())
    return {"kubernetes": data["kubernetes"], "etcd": data["etcd"]}


def overrides_present() -> bool:
    """True when the environment already names usable binaries (nothing to build)."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        missing = [n for n in ("etcd", "kube-apiserver") if not (Path(assets) / n).is_file()]
        if missing:
            raise BuildError(f"KUBEBUILDER_ASSETS={assets} lacks {', '.join(missing)}")
        say(f"using binaries from KUBEBUILDER_ASSETS={assets}; nothing to build")
        return True
    etcd, apiserver = os.environ.get("CSOPS_ETCD"), os.environ.get("CSOPS_KUBE_APISERVER")
    if etcd and apiserver:
        for name, value in (("CSOPS_ETCD", etcd), ("CSOPS_KUBE_APISERVER", apiserver)):
            if not Path(value).is_file():
                raise BuildError(f"{name}={value} is not a file")
        say("using binaries from CSOPS_ETCD / CSOPS_KUBE_APISERVER; nothing to build")
        return True
    return False


def go_env(gocache_root: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOPATH=str(gocache_root),
        GOMODCACHE=str(gocache_root / "mod"),
        GOCACHE=str(gocache_root / "build"),
        GOFLAGS="-mod=mod",
        GOTOOLCHAIN="local",
        GOWORK="off",
        CGO_ENABLED="0",
    )
    return env


def go_version() -> str:
    if shutil.which("go") is None:
        raise BuildError("`go` is not on PATH; install Go >= 1.26 or set KUBEBUILDER_ASSETS")
    return subprocess.run(  # e.g. "go1.26.8"
        ["go", "env", "GOVERSION"], check=True, capture_output=True, text=True
    ).stdout.strip()


def run(cmd: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return proc.stdout


def staging_replaces(kubernetes: str, *, cwd: Path, env: dict[str, str]) -> list[str]:
    """The staging modules k8s.io/kubernetes@<kubernetes> replaces, read from its go.mod."""
    say(f"resolving k8s.io/kubernetes@{kubernetes} through the module proxy")
    info = json.loads(
        run(["go", "mod", "download", "-json", f"k8s.io/kubernetes@{kubernetes}"], cwd=cwd, env=env)
    )
    if info.get("Error"):
        raise BuildError(f"go mod download k8s.io/kubernetes@{kubernetes}: {info['Error']}")
    modules = []
    for line in Path(info["GoMod"]).read_text().splitlines():
        match = STAGING_REPLACE.match(line)
        if match and match.group(1) == match.group(2):
            modules.append(match.group(1))
    if not modules:
        raise BuildError(f"no ./staging replace lines found in {info['GoMod']}")
    say(f"{len(modules)} staging modules to pin at {staging_version(kubernetes)}")
    return modules


def staging_version(kubernetes: str) -> str:
    """v1.36.3 -> v0.36.3 (the published staging module version of that release)."""
    return "v0." + kubernetes.removeprefix("v1.")


def write_wrapper_module(
    module_dir: Path, kubernetes: str, modules: list[str], go_directive: str
) -> None:
    staging = staging_version(kubernetes)
    replaces = "\n".join(f"\t{m} => {m} {staging}" for m in modules)
    text = string.Template(TEMPLATE_FILE.read_text()).substitute(
        go_directive=go_directive, kubernetes=kubernetes, replaces=replaces
    )
    (module_dir / "go.mod").write_text(text)


def build_binary(
    name: str, pkg: str, out: Path, *, cwd: Path, env: dict[str, str], ldflags: str
) -> None:
    """go build with -v, printing a progress line every 100 compiled packages."""
    tmp = out.with_name(out.name + ".partial")
    cmd = ["go", "build", "-v", "-trimpath", "-ldflags", ldflags, "-o", str(tmp), pkg]
    say(f"building {name} ({pkg})")
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    tail: list[str] = []
    compiled = 0
    for line in proc.stdout:
        tail = [*tail[-60:], line.rstrip()]
        if re.match(r"^[\w.\-/]+$", line.strip()):
            compiled += 1
            if compiled % 100 == 0:
                say(f"  {name}: {compiled} packages compiled ({time.monotonic() - started:.0f}s)")
    if proc.wait() != 0:
        raise BuildError(f"building {name} failed:\n" + "\n".join(tail))
    tmp.replace(out)
    say(f"built {name} in {time.monotonic() - started:.0f}s ({out.stat().st_size >> 20} MiB)")


def smoke_test(binary: Path) -> str:
    proc = subprocess.run(
        [str(binary), "--version"], check=False, capture_output=True, text=True, timeout=60
    )
    if proc.returncode != 0:
        raise BuildError(f"{binary} --version failed: {proc.stderr.strip()}")
    return (proc.stdout or proc.stderr).strip().splitlines()[0]


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another build holds {path}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stamp_matches(stamp: Path, expected: dict[str, str], binaries: list[str]) -> bool:
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    if any(data.get(k) != v for k, v in expected.items()):
        return False
    return all((stamp.parent / b).is_file() for b in binaries) and set(binaries) <= set(
        data.get("binaries", [])
    )


def build(with_controller_manager: bool) -> Path:
    versions = load_versions()
    kubernetes, etcd = versions["kubernetes"], versions["etcd"]
    gover = go_version()
    root = cache_root()
    key = f"{kubernetes.lstrip('v')}-etcd{etcd.lstrip('v')}-{gover}"
    target = root / "controlplane" / key
    bindir = target / "bin"
    stamp = bindir / STAMP_NAME
    expected = {"kubernetes": kubernetes, "etcd": etcd, "go": gover}
    wanted = ["etcd", "kube-apiserver"] + (
        ["kube-controller-manager"] if with_controller_manager else []
    )

    if stamp_matches(stamp, expected, wanted):
        say(f"up to date: {bindir}")
        return bindir
    with exclusive_lock(target / ".lock"):
        if stamp_matches(stamp, expected, wanted):  # someone else built it while we waited
            say(f"up to date: {bindir}")
            return bindir
        started = time.monotonic()
        say(f"building Kubernetes {kubernetes} + etcd {etcd} with {gover} into {bindir}")
        say("a cold build takes several minutes; later runs reuse the cache")
        env = go_env(root / "go")
        module_dir = target / "module"
        module_dir.mkdir(parents=True, exist_ok=True)
        bindir.mkdir(parents=True, exist_ok=True)
        go_directive = gover.removeprefix("go")
        (module_dir / "go.mod").write_text(
            f"module csops.local/controlplane\n\ngo {go_directive}\n"
        )
        modules = staging_replaces(kubernetes, cwd=module_dir, env=env)
        write_wrapper_module(module_dir, kubernetes, modules, go_directive)
        tools = [f"{APISERVER_PKG}@{kubernetes}", f"{ETCD_PKG}@{etcd}"]
        if with_controller_manager:
            tools.append(f"{CONTROLLER_MANAGER_PKG}@{kubernetes}")
        say("resolving dependencies (go get -tool); downloads on a cold cache")
        run(["go", "get", "-tool", *tools], cwd=module_dir, env=env)

        major, minor = kubernetes.lstrip("v").split(".")[:2]
        k8s_ldflags = " ".join(
            [
                "-s -w",
                f"-X k8s.io/component-base/version.gitVersion={kubernetes}",
                f"-X k8s.io/component-base/version.gitMajor={major}",
                f"-X k8s.io/component-base/version.gitMinor={minor}",
                "-X k8s.io/component-base/version.gitTreeState=clean",
            ]
        )
        build_binary(
            "kube-apiserver",
            APISERVER_PKG,
            bindir / "kube-apiserver",
            cwd=module_dir,
            env=env,
            ldflags=k8s_ldflags,
        )
        build_binary("etcd", ETCD_PKG, bindir / "etcd", cwd=module_dir, env=env, ldflags="-s -w")
        if with_controller_manager:
            build_binary(
                "kube-controller-manager",
                CONTROLLER_MANAGER_PKG,
                bindir / "kube-controller-manager",
                cwd=module_dir,
                env=env,
                ldflags=k8s_ldflags,
            )
        reported = {b: smoke_test(bindir / b) for b in wanted}
        for name, line in reported.items():
            say(f"  {name}: {line}")
        stamp_data = {
            **expected,
            "binaries": wanted,
            "reported": reported,
            "build_seconds": round(time.monotonic() - started),
        }
        partial = stamp.with_name(STAMP_NAME + ".partial")
        partial.write_text(json.dumps(stamp_data, indent=2) + "\n")
        partial.replace(stamp)
        say(f"done in {time.monotonic() - started:.0f}s: {bindir}")
        return bindir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-controller-manager", action="store_true", help="build only etcd and kube-apiserver"
    )
    parser.add_argument(
        "--print-bindir",
        action="store_true",
        help="print only the binary directory on stdout at the end",
    )
    args = parser.parse_args(argv)
    try:
        if overrides_present():
            return 0
        bindir = build(with_controller_manager=not args.no_controller_manager)
    except BuildError as exc:
        say(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        say("interrupted; the next run resumes from the Go caches")
        return 130
    if args.print_bindir:
        print(bindir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
