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
import json
import os
import re
import string
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE.parent))

import gobuild  # noqa: E402 - hack/ is put on the path just above

VERSIONS_FILE = REPO / "controlplane" / "versions.json"
TEMPLATE_FILE = HERE / "go.mod.tmpl"

APISERVER_PKG = "k8s.io/kubernetes/cmd/kube-apiserver"
CONTROLLER_MANAGER_PKG = "k8s.io/kubernetes/cmd/kube-controller-manager"
ETCD_PKG = "go.etcd.io/etcd/server/v3"
STAGING_REPLACE = re.compile(r"^\s*(k8s\.io/[\w.-]+)\s+=>\s+\./staging/src/(k8s\.io/[\w.-]+)\s*$")
GO_HINT = "set KUBEBUILDER_ASSETS"

say = gobuild.reporter("control-plane")


def load_versions() -> dict[str, str]:
    data = json.loads(VERSIONS_FILE.read_text())
    return {"kubernetes": data["kubernetes"], "etcd": data["etcd"]}


def overrides_present() -> bool:
    """True when the environment already names usable binaries (nothing to build)."""
    assets = os.environ.get("KUBEBUILDER_ASSETS")
    if assets:
        missing = [n for n in ("etcd", "kube-apiserver") if not (Path(assets) / n).is_file()]
        if missing:
            raise gobuild.BuildError(f"KUBEBUILDER_ASSETS={assets} lacks {', '.join(missing)}")
        say(f"using binaries from KUBEBUILDER_ASSETS={assets}; nothing to build")
        return True
    etcd, apiserver = os.environ.get("CSOPS_ETCD"), os.environ.get("CSOPS_KUBE_APISERVER")
    if etcd and apiserver:
        for name, value in (("CSOPS_ETCD", etcd), ("CSOPS_KUBE_APISERVER", apiserver)):
            if not Path(value).is_file():
                raise gobuild.BuildError(f"{name}={value} is not a file")
        say("using binaries from CSOPS_ETCD / CSOPS_KUBE_APISERVER; nothing to build")
        return True
    return False


def staging_replaces(kubernetes: str, *, cwd: Path, env: dict[str, str]) -> list[str]:
    """The staging modules k8s.io/kubernetes@<kubernetes> replaces, read from its go.mod."""
    say(f"resolving k8s.io/kubernetes@{kubernetes} through the module proxy")
    info = json.loads(
        gobuild.run(
            ["go", "mod", "download", "-json", f"k8s.io/kubernetes@{kubernetes}"], cwd=cwd, env=env
        )
    )
    if info.get("Error"):
        raise gobuild.BuildError(f"go mod download k8s.io/kubernetes@{kubernetes}: {info['Error']}")
    modules = []
    for line in Path(info["GoMod"]).read_text().splitlines():
        match = STAGING_REPLACE.match(line)
        if match and match.group(1) == match.group(2):
            modules.append(match.group(1))
    if not modules:
        raise gobuild.BuildError(f"no ./staging replace lines found in {info['GoMod']}")
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


def build(with_controller_manager: bool) -> Path:
    versions = load_versions()
    kubernetes, etcd = versions["kubernetes"], versions["etcd"]
    gover = gobuild.go_version(GO_HINT)
    root = gobuild.cache_root()
    key = f"{kubernetes.lstrip('v')}-etcd{etcd.lstrip('v')}-{gover}"
    target = root / "controlplane" / key
    bindir = target / "bin"
    stamp = bindir / gobuild.STAMP_NAME
    expected = {"kubernetes": kubernetes, "etcd": etcd, "go": gover}
    wanted = ["etcd", "kube-apiserver"] + (
        ["kube-controller-manager"] if with_controller_manager else []
    )

    if gobuild.stamp_matches(stamp, expected, wanted):
        say(f"up to date: {bindir}")
        return bindir
    with gobuild.exclusive_lock(target / ".lock", say):
        if gobuild.stamp_matches(stamp, expected, wanted):  # someone else built it while we waited
            say(f"up to date: {bindir}")
            return bindir
        started = time.monotonic()
        say(f"building Kubernetes {kubernetes} + etcd {etcd} with {gover} into {bindir}")
        say("a cold build takes several minutes; later runs reuse the cache")
        env = gobuild.go_env(root / "go")
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
        gobuild.run(["go", "get", "-tool", *tools], cwd=module_dir, env=env)

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
        gobuild.build_binary(
            "kube-apiserver",
            APISERVER_PKG,
            bindir / "kube-apiserver",
            cwd=module_dir,
            env=env,
            ldflags=k8s_ldflags,
            say=say,
        )
        gobuild.build_binary(
            "etcd", ETCD_PKG, bindir / "etcd", cwd=module_dir, env=env, ldflags="-s -w", say=say
        )
        if with_controller_manager:
            gobuild.build_binary(
                "kube-controller-manager",
                CONTROLLER_MANAGER_PKG,
                bindir / "kube-controller-manager",
                cwd=module_dir,
                env=env,
                ldflags=k8s_ldflags,
                say=say,
            )
        reported = {b: gobuild.smoke_test(bindir / b) for b in wanted}
        for name, line in reported.items():
            say(f"  {name}: {line}")
        stamp_data = {
            **expected,
            "binaries": wanted,
            "reported": reported,
            "build_seconds": round(time.monotonic() - started),
        }
        gobuild.write_stamp(stamp, stamp_data)
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
    except gobuild.BuildError as exc:
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
