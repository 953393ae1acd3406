"""Fixtures for admission tests: the syncer's stacks repository and a user talking to the API.

The user is the admin of the management plane, sending the requests a person would with
kubectl; :class:`Answer` keeps the status, the message and the ``Warning`` headers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from tests.syncer.conftest import (
    csops_kubeconfig,
    kube,
    other_namespace,
    stacks_repo,
    sync_config,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

__all__ = ["csops_kubeconfig", "kube", "other_namespace", "stacks_repo", "sync_config"]


@dataclass
class Answer:
    """What the API server said to one request."""

    status: int
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status < 300


class User:
    """Creates and changes custom objects as a person with kubectl would."""

    def __init__(self, api_client: ApiClient) -> None:
        from kubernetes.client import CustomObjectsApi

        self._api = CustomObjectsApi(api_client)

    @staticmethod
    def _call(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Answer:
        from kubernetes.client.exceptions import ApiException

        try:
            data, status, headers = call(*args, **kwargs)
        except ApiException as exc:
            message = exc.body or exc.reason or ""
            with contextlib.suppress(ValueError):
                message = json.loads(message).get("message", message)
            return Answer(int(exc.status or 0), str(message))
        warnings = [w for k, w in (headers or {}).items() if k.lower() == "warning"]
        return Answer(status, "", warnings, data if isinstance(data, dict) else {})

    def create(self, body: dict[str, Any], *, dry_run: bool = False) -> Answer:
        group, version = body["apiVersion"].split("/")
        return self._call(
            self._api.create_namespaced_custom_object_with_http_info,
            group,
            version,
            body["metadata"]["namespace"],
            f"{body['kind'].lower()}s",
            body,
            dry_run="All" if dry_run else None,
        )

    def patch(self, obj: dict[str, Any], patch: dict[str, Any], *, dry_run: bool = False) -> Answer:
        group, version = obj["apiVersion"].split("/")
        return self._call(
            self._api.patch_namespaced_custom_object_with_http_info,
            group,
            version,
            obj["metadata"]["namespace"],
            f"{obj['kind'].lower()}s",
            obj["metadata"]["name"],
            patch,
            dry_run="All" if dry_run else None,
            _content_type="application/merge-patch+json",
        )


def answered(
    request: Callable[[], Answer], accept: Callable[[Answer], bool]
) -> Callable[[], Answer | None]:
    """A check for :func:`tests.polling.eventually`: the answer once ``accept`` holds."""

    def check() -> Answer | None:
        answer = request()
        return answer if accept(answer) else None

    return check


@pytest.fixture
def user(api_client: ApiClient, capi_crds: list[str]) -> User:
    return User(api_client)
