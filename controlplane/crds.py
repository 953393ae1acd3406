"""Install CustomResourceDefinitions and wait until they are Established.

The Cluster API, CAPO and ORC CRDs are the real ones, collected by ``make capi`` from their Go
modules (:mod:`csops.controlplane.clusterapi`); this module only installs documents.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from csops.controlplane.errors import CrdError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

ESTABLISH_TIMEOUT = 180.0  # Cluster API's CRDs on a busy machine


def load_crds(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The CustomResourceDefinitions in ``paths`` (several documents per file allowed).

    Read with libyaml: Cluster API's CRDs are megabytes, which the pure-Python parser needs
    tens of seconds for.
    """
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    documents: list[dict[str, Any]] = []
    for path in paths:
        for document in yaml.load_all(path.read_text(), Loader=loader):
            if not document:
                continue
            if document.get("kind") != "CustomResourceDefinition":
                raise CrdError(f"{path}: not a CustomResourceDefinition: {document.get('kind')}")
            documents.append(document)
    return documents


def install_crds(
    api_client: ApiClient,
    documents: Iterable[dict[str, Any]],
    timeout: float = ESTABLISH_TIMEOUT,
    parallel: int = 4,
) -> list[str]:
    """Create or update the CRDs ``documents``; wait until each is Established.

    ``parallel`` requests at a time: the API server compiles each CRD's schema and rules, and
    overlapping them roughly halves the time for large sets. Returns the CRD names in order.
    """
    from kubernetes.client import ApiextensionsV1Api

    # The client accepts plain dict bodies; its annotations only name the model classes.
    api: Any = ApiextensionsV1Api(api_client)
    documents = list(documents)
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        names = list(pool.map(lambda document: _create_or_replace(api, document), documents))
    deadline = time.monotonic() + timeout
    for name in names:
        wait_established(api, name, deadline)
    return names


def _create_or_replace(api: Any, document: dict[str, Any]) -> str:
    from kubernetes.client.exceptions import ApiException

    name = str(document["metadata"]["name"])
    try:
        api.create_custom_resource_definition(body=document)
    except ApiException as exc:
        if exc.status != 409:
            raise CrdError(f"creating CRD {name}: {exc.status} {exc.reason}: {exc.body}") from exc
        current = _read(api, name)
        metadata = {
            **document["metadata"],
            "resourceVersion": current["metadata"]["resourceVersion"],
        }
        api.replace_custom_resource_definition(name=name, body={**document, "metadata": metadata})
    return name


def _read(api: Any, name: str) -> dict[str, Any]:
    response = api.read_custom_resource_definition(name=name, _preload_content=False)
    data: dict[str, Any] = json.loads(response.data)
    return data


def _established(crd: dict[str, Any]) -> bool:
    conditions = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def wait_established(api: Any, name: str, deadline: float) -> None:
    """Poll the CRD until its Established condition is True or ``deadline`` passes."""
    while True:
        crd = _read(api, name)
        if _established(crd):
            return
        if time.monotonic() > deadline:
            conditions = (crd.get("status") or {}).get("conditions")
            raise CrdError(f"CRD {name} not Established in time; conditions: {conditions}")
        time.sleep(0.05)
