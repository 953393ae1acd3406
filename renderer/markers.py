"""csctl's ``<< .X >>`` markers, replaced in every file of a stack before packaging."""

from __future__ import annotations

import re
from collections.abc import Mapping

_MARKER = re.compile(rb"<< (\.[A-Za-z0-9_.]*) >>")

CLUSTER_CLASS_VERSION = ".ClusterClassVersion"
CLUSTER_ADDON_VERSION = ".ClusterAddonVersion"
NODE_IMAGE_VERSION = ".NodeImageVersion"


def substitute(content: bytes, values: Mapping[str, str]) -> bytes:
    """Replace every marker; unknown markers become empty, as csctl's fasttemplate does."""
    if b"<< ." not in content:
        return content
    return _MARKER.sub(lambda m: values.get(m.group(1).decode(), "").encode(), content)
