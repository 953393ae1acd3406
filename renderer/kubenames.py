"""What Kubernetes accepts as an object's kind, apiVersion, namespace and name (pure).

Every object the renderer writes becomes a file named after these fields, so they are checked
before they become a path, with the rules the API server applies:

- ``kind``: an identifier (a letter, then letters and digits), as Go types are named;
- ``apiVersion``: ``<group>/<version>`` or ``<version>``, the group a DNS subdomain and the
  version a DNS label;
- ``metadata.namespace``: a DNS label;
- ``metadata.name``: a DNS label for Namespaces, a path segment for the RBAC kinds (which
  allow ``system:…`` names), a DNS subdomain for everything else.
"""

from __future__ import annotations

import re
from typing import Any

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
KIND = re.compile(r"[A-Za-z][A-Za-z0-9]*")
MAX_LABEL = 63
MAX_SUBDOMAIN = 253
PATH_SEGMENT_KINDS = frozenset(
    {
        ("rbac.authorization.k8s.io", "Role"),
        ("rbac.authorization.k8s.io", "ClusterRole"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    }
)


def dns_label(value: str) -> bool:
    """A DNS-1123 label: lower-case letters, digits and ``-``, at most 63 characters."""
    return len(value) <= MAX_LABEL and DNS_LABEL.fullmatch(value) is not None


def dns_subdomain(value: str) -> bool:
    """A DNS-1123 subdomain: dot-separated labels, at most 253 characters."""
    return len(value) <= MAX_SUBDOMAIN and DNS_SUBDOMAIN.fullmatch(value) is not None


def path_segment(value: str) -> bool:
    """What every name must be: not ``.`` or ``..``, without ``/`` or ``%``."""
    return (
        bool(value)
        and len(value) <= MAX_SUBDOMAIN
        and value not in (".", "..")
        and not any(c in value for c in "/%\\\0")
        and value.isprintable()
    )


def kind_name(value: str) -> bool:
    """An identifier, as Kubernetes kinds are."""
    return len(value) <= MAX_LABEL and KIND.fullmatch(value) is not None


def api_version(value: str) -> bool:
    """``group/version`` or a core ``version``."""
    group, _, version = value.rpartition("/")
    return dns_label(version) and (not group or dns_subdomain(group))


def problems(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, message)`` for each of kind, apiVersion, namespace and name Kubernetes would
    refuse (and that would not make a safe file name)."""
    found: list[tuple[str, str]] = []
    kind, version = obj.get("kind"), obj.get("apiVersion")
    if not isinstance(kind, str) or not kind_name(kind):
        found.append(("kind", f"{kind!r} is not a kind (a letter, then letters and digits)"))
    if not isinstance(version, str) or not api_version(version):
        found.append(("apiVersion", f"{version!r} is not an API version (group/version)"))
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    namespace = meta.get("namespace")
    if namespace is not None and (not isinstance(namespace, str) or not dns_label(namespace)):
        found.append(("metadata.namespace", f"{namespace!r} is not a namespace (a DNS label)"))
    name = meta.get("name")
    group = version.rpartition("/")[0] if isinstance(version, str) else ""
    if (group, kind) in PATH_SEGMENT_KINDS:
        rule, check = "a name without '/' or '%'", path_segment
    elif group == "" and kind == "Namespace":
        rule, check = "a DNS label", dns_label
    else:
        rule, check = "a DNS subdomain: lower-case letters, digits, '-' and '.'", dns_subdomain
    if not isinstance(name, str) or not check(name):
        found.append(("metadata.name", f"{name!r} is not a valid {kind} name ({rule})"))
    return found
