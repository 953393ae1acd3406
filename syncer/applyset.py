"""ApplySet (KEP-3659) names: the labels and annotations that tie objects to their inventory.

The parent carries ``applyset.kubernetes.io/id`` (label), ``tooling``, ``contains-group-kinds``
and ``additional-namespaces`` (annotations); every member carries
``applyset.kubernetes.io/part-of: <id>``. Pure: names and one hash.
"""

from __future__ import annotations

import base64
import hashlib

from csops.version import VERSION

ID_LABEL = "applyset.kubernetes.io/id"
PART_OF_LABEL = "applyset.kubernetes.io/part-of"
TOOLING_ANNOTATION = "applyset.kubernetes.io/tooling"
GROUP_KINDS_ANNOTATION = "applyset.kubernetes.io/contains-group-kinds"
NAMESPACES_ANNOTATION = "applyset.kubernetes.io/additional-namespaces"
TOOLING = f"csops/v{VERSION}"


def applyset_id(name: str, namespace: str) -> str:
    """KEP-3659: ``applyset-<base64url(sha256(name.namespace.kind.group))>-v1``."""
    digest = hashlib.sha256(f"{name}.{namespace}.Secret.".encode()).digest()
    return "applyset-" + base64.urlsafe_b64encode(digest).decode().rstrip("=") + "-v1"
