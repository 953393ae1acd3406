"""Install CustomResourceDefinitions and wait until they are Established.

``controlplane/crds/*.yaml`` holds minimal, structural CRDs (spec and status preserve unknown
fields) for the Cluster API and ORC kinds the tests and the dev cluster need.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from csops.controlplane.errors import CrdError

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

ESTABLISH_TIMEOUT = 60.0


def bundled_crd_paths() -> list[Path]:
    """The CRD files shipped in ``controlplane/crds``, sorted by name."""
    directory = Path(str(resources.files("csops.controlplane").joinpath("crds")))
    return sorted(directory.glob("*.yaml"))


def _load(paths: Iterable[Path]) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for path in paths:
        for document in yaml.safe_load_all(path.read_text()):
            if not document:
                continue
            if document.get("kind") != "CustomResourceDefinition":
                raise CrdError(f"{path}: not a CustomResourceDefinition: {document.get('kind')}")
            documents.append(document)
    return documents


def install_crds(
    api_client: ApiClient,
    paths: Iterable[Path] | None = None,
    timeout: float = ESTABLISH_TIMEOUT,
) -> list[str]:
    """Create or update the CRDs in ``paths`` (default: the bundled ones); wait Established.

    Returns the CRD names in the order installed.
    """
    from kubernetes.client import ApiextensionsV1Api
    from kubernetes.client.exceptions import ApiException

    # The client accepts plain dict bodies; its annotations only name the model classes.
    api: Any = ApiextensionsV1Api(api_client)
    names: list[str] = []
    for document in _load(bundled_crd_paths() if paths is None else paths):
        name = str(document["metadata"]["name"])
        try:
            api.create_custom_resource_definition(body=document)
        except ApiException as exc:
            if exc.status != 409:
                raise CrdError(
                    f"creating CRD {name}: {exc.status} {exc.reason}: {exc.body}"
                ) from exc
            current = _read(api, name)
            metadata = {
                **document["metadata"],
                "resourceVersion": current["metadata"]["resourceVersion"],
            }
            api.replace_custom_resource_definition(
                name=name, body={**document, "metadata": metadata}
            )
        names.append(name)
    deadline = time.monotonic() + timeout
    for name in names:
        wait_established(api, name, deadline)
    return names


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
