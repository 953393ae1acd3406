#!/usr/bin/env python3
"""Build every container image the project uses, locally with podman, pulling from no registry.

    csops:<version>, csops-git-server:<version>     the top-level Dockerfile
    registry.k8s.io/etcd:<etcd>-0                   etcd built by `make control-plane`
    registry.k8s.io/kube-apiserver:<kubernetes>     kube-apiserver built by `make control-plane`
    docker.io/library/python:3.11-slim              the Dockerfile's base, from Debian packages

The base is a Debian bookworm tree made by mmdebstrap (python3 3.11, venv, pip, git's
dependencies come later from the Dockerfile), with the host's CA certificates added (package and
PyPI downloads may go through a proxy with its own CA) and ``EXTERNALLY-MANAGED`` removed, so
the unchanged Dockerfile builds here as it does with Docker on a machine that pulls the real one.

Podman runs with the ``containers.conf`` this script writes to
``${XDG_CACHE_HOME:-~/.cache}/csops/images/containers.conf`` (runc, cgroupfs, file events,
netavark with DNS between containers, ulimits within the host's hard limits); export
``CONTAINERS_CONF`` to that path to use podman or podman-compose by hand. As root the script
installs the Debian packages it needs; otherwise it says which are missing. Images whose
inputs did not change are kept, so a warm run takes seconds. An exclusive lock serialises
concurrent runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
VERSIONS_FILE = REPO / "controlplane" / "versions.json"
sys.path.insert(0, str(HERE.parent))

import gobuild  # noqa: E402 - hack/ is put on the path just above

PACKAGES = ("podman", "runc", "mmdebstrap", "catatonit", "netavark", "aardvark-dns", "iptables")
COMMANDS = ("podman", "runc", "mmdebstrap", "catatonit", "netavark", "iptables")
"""netavark sets up a container's network with the iptables command: without it every
``RUN`` step and container start fails with "netavark: No such file or directory"."""
BASE_TAG = "docker.io/library/python:3.11-slim"
BASE_PACKAGES = ("python3", "python3-venv", "python3-pip", "python-is-python3", "ca-certificates")
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
HOST_CAS = Path("/usr/local/share/ca-certificates")
NPROC = 32768
INPUT_LABEL = "dev.csops.inputs"


class ImageError(Exception):
    """A step failed; the message says which and what to do."""


def say(message: str) -> None:
    print(f"[images] {message}", flush=True)


def cache_dir() -> Path:
    return gobuild.cache_root() / "images"


def containers_conf_path() -> Path:
    return cache_dir() / "containers.conf"


def project_version() -> str:
    """The version in pyproject.toml (what the image's csops reports)."""
    with (REPO / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


# ------------------------------------------------------------------------------ set-up
def ensure_packages() -> None:
    """Install the Debian packages podman needs (root), or say what is missing."""
    missing = [c for c in COMMANDS if shutil.which(c) is None and not _libexec(c)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise ImageError(
            f"missing {', '.join(missing)}; as root run `make images` (it installs "
            f"{' '.join(PACKAGES)}), or `apt-get install {' '.join(PACKAGES)}` yourself"
        )
    say(f"installing {' '.join(PACKAGES)} (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-q"],
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES],
    ):
        _run(argv, env=env, what="apt-get")


def _libexec(command: str) -> bool:
    return any(
        Path(d, command).exists() for d in ("/usr/libexec/podman", "/usr/lib/podman", "/usr/bin")
    )


def check_network() -> None:
    """A bridge left by podman's older CNI backend holds the subnet netavark uses."""
    if Path("/sys/class/net/cni-podman0").exists():
        raise ImageError(
            "the network interface cni-podman0 (from podman's CNI backend) holds podman's "
            "default subnet, so containers cannot reach the network with netavark; remove it "
            "with `ip link delete cni-podman0` (as root)"
        )


def write_containers_conf() -> Path:
    """containers.conf for these machines: runc, cgroupfs, file events, bounded ulimits."""
    _, hard_nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, hard_nproc = resource.getrlimit(resource.RLIMIT_NPROC)
    nofile = min(hard_nofile if hard_nofile != resource.RLIM_INFINITY else 1 << 20, 1 << 20)
    nproc = min(hard_nproc if hard_nproc != resource.RLIM_INFINITY else NPROC, NPROC)
    text = (
        "# Written by hack/images/build.py (make images); export CONTAINERS_CONF=<this file>.\n"
        "[containers]\n"
        f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
        "\n[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        "\n[network]\n"
        'network_backend = "netavark"\n'
    )
    path = containers_conf_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_text() != text:
        path.write_text(text)
    os.environ["CONTAINERS_CONF"] = str(path)
    return path


# ------------------------------------------------------------------------------ podman
def podman(*args: str, what: str, capture: bool = False) -> str:
    return _run(["podman", *args], what=what, capture=capture)


def _run(
    argv: list[str], *, what: str, env: dict[str, str] | None = None, capture: bool = True
) -> str:
    proc = subprocess.run(
        argv, env=env, check=False, text=True, capture_output=capture, stdin=subprocess.DEVNULL
    )
    if proc.returncode != 0:
        detail = (proc.stderr or "")[-4000:] if capture else "(output above)"
        raise ImageError(f"{what}: `{' '.join(argv[:4])} …` exited {proc.returncode}\n{detail}")
    return proc.stdout or ""


def image_inputs(tag: str) -> str | None:
    """The inputs digest recorded on a local image, or None when it does not exist."""
    proc = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{json .Labels}}", tag],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    labels = json.loads(proc.stdout or "null") or {}
    return str(labels.get(INPUT_LABEL, ""))


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


# ------------------------------------------------------------------------------ images
def base_image() -> None:
    """python:3.11-slim from Debian packages (mmdebstrap), unless one exists already."""
    if image_inputs(BASE_TAG) is not None:
        say(f"{BASE_TAG}: present")
        return
    cas = sorted(HOST_CAS.glob("*.crt")) if HOST_CAS.is_dir() else []
    key = digest(SUITE, MIRROR, *BASE_PACKAGES, *(c.read_bytes() for c in cas))
    tarball = cache_dir() / f"base-{SUITE}-{key}.tar"
    if not tarball.is_file():
        say(f"{BASE_TAG}: mmdebstrap {SUITE} with {' '.join(BASE_PACKAGES)} (a few minutes)")
        hooks = [
            '--customize-hook=rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
            '--customize-hook=rm -rf "$1"/usr/share/doc/* "$1"/usr/share/man/*',
        ]
        if cas:
            hooks.insert(0, f"--customize-hook=copy-in {' '.join(map(str, cas))} {HOST_CAS}")
            hooks.insert(1, '--customize-hook=chroot "$1" update-ca-certificates')
        partial = tarball.with_suffix(".partial")
        _run(
            [
                "mmdebstrap",
                "--variant=minbase",
                "--format=tar",
                "--quiet",
                f"--include={','.join(BASE_PACKAGES)}",
                *hooks,
                SUITE,
                str(partial),
                MIRROR,
            ],
            what="mmdebstrap",
        )
        partial.replace(tarball)
    podman(
        "import",
        "--change",
        "ENV LANG=C.UTF-8",
        "--change",
        'CMD ["python3"]',
        str(tarball),
        BASE_TAG,
        what="podman import",
    )
    say(f"{BASE_TAG}: imported from {tarball.name}")


def binary_image(tag: str, binary: Path) -> None:
    """An image holding one static binary at /usr/local/bin, as upstream lays it out."""
    key = digest(binary.read_bytes())
    if image_inputs(tag) == key:
        say(f"{tag}: up to date")
        return
    with tempfile.TemporaryDirectory(prefix="csops-image-") as tmp:
        shutil.copy2(binary, Path(tmp) / binary.name)
        (Path(tmp) / "Containerfile").write_text(
            "FROM scratch\n"
            f"COPY {binary.name} /usr/local/bin/{binary.name}\n"
            f'ENTRYPOINT ["/usr/local/bin/{binary.name}"]\n'
        )
        podman(
            "build",
            "--pull=never",
            "--label",
            f"{INPUT_LABEL}={key}",
            "-t",
            tag,
            tmp,
            what=f"build {tag}",
        )
    say(f"{tag}: built from {binary}")


def project_images(version: str) -> None:
    """csops and csops-git-server from the top-level Dockerfile (layers cached by podman)."""
    for target, name in (("csops", "csops"), ("git-server", "csops-git-server")):
        tag = f"localhost/{name}:{version}"
        say(f"{tag}: podman build --target {target} (cached layers are reused)")
        podman(
            "build",
            "--pull=never",
            "--layers",
            "--target",
            target,
            "-t",
            tag,
            "-t",
            f"localhost/{name}:latest",
            "-f",
            str(REPO / "Dockerfile"),
            str(REPO),
            what=f"build {tag}",
            capture=False,
        )


def control_plane_images() -> None:
    """etcd and kube-apiserver images, tagged as upstream publishes them."""
    from csops.controlplane.binaries import locate_binaries  # the project's venv runs this

    versions = json.loads(VERSIONS_FILE.read_text())
    binaries = locate_binaries()
    etcd = versions["etcd"].removeprefix("v")
    binary_image(f"registry.k8s.io/etcd:{etcd}-0", binaries.etcd)
    binary_image(
        f"registry.k8s.io/kube-apiserver:{versions['kubernetes']}", binaries.kube_apiserver
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--print-conf", action="store_true", help="print the containers.conf path at the end"
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        ensure_packages()
        check_network()
        conf = write_containers_conf()
        with gobuild.exclusive_lock(cache_dir() / ".lock", say):
            base_image()
            control_plane_images()
            project_images(project_version())
    except ImageError as exc:
        say(f"error: {exc}")
        return 1
    say(f"done in {time.monotonic() - started:.0f} s; podman uses CONTAINERS_CONF={conf}")
    if args.print_conf:
        print(conf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
