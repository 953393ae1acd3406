"""The one adapter to the Kubernetes API (through the official ``kubernetes`` client).

Raw REST: the ``kubernetes`` client loads the kubeconfig and carries watches (and
connections through a proxy); every other request goes over the pooled connections of
:mod:`csops.syncer.apiconnections`, at half the client's CPU per request. Discovery per
group/version (cached, refreshed on a miss), server-side apply with field manager ``csops``
and forced ownership, get/list/delete/watch, status patches and Events. Objects are plain
dicts; nothing here knows about releases.

Why one long module: it is the product's only module allowed to import the ``kubernetes``
client (an import-linter contract), so every kind of request csops makes lives here.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import urllib3
import yaml

from csops.syncer import apiconnections
from csops.syncer.clock import SYSTEM, Clock
from csops.syncer.errors import ApiError, NotFoundError, UnreachableError
from csops.syncer.objects import ObjectId, Resource

FIELD_MANAGER = "csops"
USER_AGENT = "csops-syncer"
STATUS_FIELD_MANAGER = "csops-status"
REQUEST_TIMEOUT = 30.0
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
RETRIES = 8
#: The client's kubeconfig loader keeps one process-wide cache of the temporary files it writes
#: certificates and keys to, and names a file there before writing it: a second thread loading
#: the same certificate at that moment gets an empty file (``NO_CERTIFICATE_OR_CRL_FOUND`` on
#: its first request). Loads run one at a time; they are rare and take milliseconds.
_LOAD_LOCK = threading.Lock()


_KUBECONFIG_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    ValueError,  # UnicodeDecodeError, binascii.Error
    TypeError,
    AttributeError,
    KeyError,
    yaml.YAMLError,
)
"""What the client's kubeconfig loader raises on a malformed or unreadable document."""


def _transport_errors() -> tuple[type[Exception], ...]:
    """What the client's transport raises when the server cannot be reached (evaluated only
    when something was raised, so the client is imported late)."""
    from kubernetes.client.exceptions import ApiException

    return (urllib3.exceptions.HTTPError, OSError, ApiException)


@dataclass(frozen=True)
class ListResult:
    items: list[dict[str, Any]]
    resource_version: str


class Kube:
    """A thin, thread-safe client: dicts in, dicts out, :class:`ApiError` on failure."""

    def __init__(
        self, api_client: Any, *, field_manager: str = FIELD_MANAGER, clock: Clock = SYSTEM
    ) -> None:
        self._api = api_client
        settings = apiconnections.settings_from(api_client.configuration)
        agent = str(getattr(api_client, "user_agent", "") or USER_AGENT)
        self._connections = (
            apiconnections.Connections(settings, agent) if settings is not None else None
        )
        self.field_manager = field_manager
        self.clock = clock
        self._lock = threading.Lock()
        self._groups: dict[str, dict[str, Resource]] = {}  # "group/version" -> kind -> resource
        self._preferred: dict[str, list[str]] = {}  # group -> served versions, preferred first

    @classmethod
    def from_kubeconfig(
        cls,
        kubeconfig: Path | None,
        *,
        context: str | None = None,
        field_manager: str = FIELD_MANAGER,
        clock: Clock = SYSTEM,
    ) -> Kube:
        """A client from ``kubeconfig`` (default: in-cluster, then ``~/.kube/config``) and
        its ``context`` (default: the current one; a context means a kubeconfig, never the
        in-cluster account)."""
        from kubernetes import client, config

        configuration = client.Configuration()
        errors: tuple[type[Exception], ...] = (config.ConfigException, *_KUBECONFIG_ERRORS)
        where = f"kubeconfig {kubeconfig or '(default)'}" + (
            f", context {context!r}" if context else ""
        )
        try:
            with _LOAD_LOCK:
                _load(configuration, kubeconfig, context)
        except errors as exc:
            # the client's loader fails on malformed documents with whatever its code hits
            reason = (
                str(exc)
                if isinstance(exc, OSError | config.ConfigException)
                else f"not a well-formed kubeconfig ({type(exc).__name__}: {exc})"
            )
            raise ApiError(f"cannot load {where}: {reason}") from exc
        configuration.retries = False
        api = client.ApiClient(configuration)
        api.user_agent = USER_AGENT
        return cls(api, field_manager=field_manager, clock=clock)

    def close(self) -> None:
        if self._connections is not None:
            self._connections.close()
        self._api.close()

    # ------------------------------------------------------------------ transport
    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request, retried a few times on transient answers (429, 5xx while starting)."""
        delay = 0.05
        for _ in range(RETRIES):
            try:
                return self._once(method, path, **kwargs)
            except ApiError as exc:
                transient = exc.status in (429, 503, 504) or "initializing" in str(exc)
                if not transient or isinstance(exc, UnreachableError):
                    raise
            self.clock.sleep(delay)
            delay = min(delay * 2, 1.0)
        return self._once(method, path, **kwargs)

    def _once(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        stream: bool = False,
        timeout: float | None = REQUEST_TIMEOUT,
    ) -> Any:
        if query:
            path = f"{path}?{urlencode(query)}"
        headers = {"Accept": accept, "Content-Type": content_type}
        if self._connections is not None and not stream:
            payload = apiconnections.encode(body) if body is not None else None
            try:
                answer = self._connections.request(
                    method, path, body=payload, headers=headers, timeout=timeout
                )
            except apiconnections.ConnectionFailed as exc:
                raise UnreachableError(f"{method} {path}: API server unreachable: {exc}") from exc
            return _decoded(method, path, answer.status, answer.reason, answer.data)
        _, url, headers, body, _ = self._api.param_serialize(
            method, path, header_params=headers, body=body, auth_settings=["BearerToken"]
        )
        try:
            response = self._api.rest_client.request(
                method, url, headers=headers, body=body, _request_timeout=timeout
            )
        except _transport_errors() as exc:  # connection refused, TLS, timeouts
            raise UnreachableError(f"{method} {path}: API server unreachable: {exc}") from exc
        if stream and response.status < 300:
            return response.response
        return _decoded(method, path, response.status, response.reason, response.read())

    # ------------------------------------------------------------------ discovery
    def _group_version(self, group_version: str) -> dict[str, Resource]:
        with self._lock:
            cached = self._groups.get(group_version)
        if cached is not None:
            return cached
        base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        try:
            data = self._request("GET", base)
        except NotFoundError:
            data = {"resources": []}
        group, _, version = group_version.rpartition("/")
        kinds: dict[str, Resource] = {}
        for entry in data.get("resources", []):
            if "/" in entry["name"]:
                continue
            kinds[entry["kind"]] = Resource(
                group=group,
                version=version,
                kind=entry["kind"],
                plural=entry["name"],
                namespaced=bool(entry["namespaced"]),
            )
        if kinds:
            with self._lock:
                self._groups[group_version] = kinds
        return kinds

    def resource(self, api_version: str, kind: str) -> Resource:
        """The REST resource for ``apiVersion``/``kind``; re-discovers once on a miss."""
        found = self._group_version(api_version).get(kind)
        if found is None:
            self.forget(api_version)
            found = self._group_version(api_version).get(kind)
        if found is None:
            raise NotFoundError(f"the server has no resource for {kind} in {api_version}")
        return found

    def _group_versions(self, group: str) -> list[str]:
        """The versions a group serves, preferred first (cached)."""
        versions = self._preferred.get(group)
        if versions is None:
            try:
                data = self._request("GET", f"/apis/{group}")
            except NotFoundError as exc:
                raise NotFoundError(f"the server has no API group {group!r}") from exc
            preferred = str(data["preferredVersion"]["version"])
            served = [str(v["version"]) for v in data.get("versions") or []]
            versions = [preferred, *(v for v in served if v != preferred)]
            self._preferred[group] = versions
        return versions

    def resource_for_group(self, group: str, kind: str, version: str | None = None) -> Resource:
        """The resource of a group/kind: at ``version`` when the server still serves the kind
        there, else at the group's preferred version, else at any version that serves it.

        A kind of a group is not always served at the group's preferred version (one CRD of
        the group may be ``v1beta1`` only while another prefers ``v1beta2``): only when no
        version serves the kind is it a :class:`NotFoundError`.
        """
        if group == "":
            return self.resource("v1", kind)
        versions = self._group_versions(group)
        if version and version not in versions:
            self.forget_group(group)
            versions = self._group_versions(group)
        ordered = ([version] if version in versions else []) + versions
        for candidate in dict.fromkeys(ordered):
            try:
                return self.resource(f"{group}/{candidate}", kind)
            except NotFoundError:
                continue
        raise NotFoundError(
            f"the server has no resource for {kind} in group {group!r} "
            f"(versions: {', '.join(versions)})"
        )

    def forget_group(self, group: str) -> None:
        """Forget what discovery said about one group's versions."""
        with self._lock:
            self._preferred.pop(group, None)

    def forget(self, api_version: str | None = None) -> None:
        with self._lock:
            if api_version is None:
                self._groups.clear()
                self._preferred.clear()
            else:
                self._groups.pop(api_version, None)

    # ------------------------------------------------------------------ paths
    @staticmethod
    def _path(resource: Resource, namespace: str | None, name: str | None = None) -> str:
        root = "/api/v1" if resource.group == "" else f"/apis/{resource.group}/{resource.version}"
        if resource.namespaced and namespace:
            root = f"{root}/namespaces/{namespace}"
        path = f"{root}/{resource.plural}"
        return f"{path}/{name}" if name else path

    # ------------------------------------------------------------------ verbs
    def apply(
        self, resource: Resource, body: dict[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Server-side apply ``body`` (force, our field manager); returns the live object."""
        meta = body["metadata"]
        query = {"fieldManager": self.field_manager, "force": "true"}
        if dry_run:
            query["dryRun"] = "All"
        path = self._path(resource, meta.get("namespace"), meta["name"])
        result: dict[str, Any] = self._request(
            "PATCH", path, query=query, body=body, content_type="application/apply-patch+yaml"
        )
        return result

    def apply_status(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply of the status subresource with the status field manager."""
        meta = body["metadata"]
        path = self._path(resource, meta.get("namespace"), meta["name"]) + "/status"
        query = {"fieldManager": STATUS_FIELD_MANAGER, "force": "true"}
        result: dict[str, Any] = self._request(
            "PATCH", path, query=query, body=body, content_type="application/apply-patch+yaml"
        )
        return result

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", self._path(resource, namespace, name))
        return result

    def get_or_none(
        self, resource: Resource, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        try:
            return self.get(resource, namespace, name)
        except NotFoundError:
            return None

    def list(
        self,
        resource: Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> ListResult:
        query = {"labelSelector": label_selector} if label_selector else None
        data = self._request("GET", self._path(resource, namespace), query=query)
        items = data.get("items", [])
        api_version = resource.api_version
        for item in items:
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", resource.kind)
        return ListResult(items, str(data.get("metadata", {}).get("resourceVersion", "")))

    def list_metadata(
        self, resource: Resource, *, namespace: str | None = None
    ) -> dict[ObjectId, dict[str, Any]]:
        """The metadata of every object of ``resource`` (in ``namespace``), without their
        bodies: what exists, who manages it, what it is labelled and annotated."""
        data = self._request(
            "GET",
            self._path(resource, namespace),
            accept=METADATA_LIST,
        )
        found = {}
        for item in data.get("items") or []:  # an empty metadata list is "items": null
            meta = item.get("metadata") or {}
            oid = ObjectId(
                resource.group, resource.kind, str(meta.get("namespace") or ""), meta["name"]
            )
            found[oid] = meta
        return found

    def create(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        result: dict[str, Any] = self._request(
            "POST",
            self._path(resource, meta.get("namespace")),
            query={"fieldManager": self.field_manager},
            body=body,
        )
        return result

    def replace(self, resource: Resource, body: dict[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        result: dict[str, Any] = self._request(
            "PUT",
            self._path(resource, meta.get("namespace"), meta["name"]),
            query={"fieldManager": self.field_manager},
            body=body,
        )
        return result

    def delete(
        self, resource: Resource, namespace: str | None, name: str, *, uid: str | None = None
    ) -> dict[str, Any] | None:
        """Delete (background propagation, guarded by ``uid``); the server's answer (the
        object as the delete left it, or a ``Status``), None when it was already gone."""
        body: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Background",
        }
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            answer: dict[str, Any] = self._request(
                "DELETE", self._path(resource, namespace, name), body=body
            )
        except NotFoundError:
            return None
        return answer

    def watch(
        self,
        resource: Resource,
        *,
        label_selector: str | None,
        resource_version: str,
        timeout_seconds: int = 300,
        namespace: str | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Stream ``(type, object)`` watch events until the server closes the watch (every
        namespace unless ``namespace`` is given)."""
        query = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            query["labelSelector"] = label_selector
        response = self._request(
            "GET",
            self._path(resource, namespace),
            query=query,
            stream=True,
            timeout=timeout_seconds + 10,
        )
        try:
            buffer = b""
            for chunk in response.stream(8192, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        event = json.loads(line)
                        yield str(event.get("type", "")), event.get("object") or {}
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:  # dropped mid-stream
            raise UnreachableError(f"watch of {resource.plural} ended: {exc}") from exc
        finally:
            response.release_conn()

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        self._request("POST", f"/api/v1/namespaces/{namespace}/events", body=body)

    def identity(self, obj: dict[str, Any]) -> ObjectId:
        """The :class:`ObjectId` of a live or desired object (group from its apiVersion)."""
        return ObjectId.of(obj)


def _decoded(method: str, path: str, status: int, reason: str, data: bytes) -> Any:
    """An answer's JSON; an :class:`ApiError` with the server's message for a failure."""
    if status >= 300:
        message = data.decode("utf-8", "replace") if data else reason
        with contextlib.suppress(ValueError, AttributeError):
            message = json.loads(message).get("message", message)
        if status == 404:
            raise NotFoundError(f"{method} {path}: {message}", status=404)
        raise ApiError(f"{message}", status=status)
    return json.loads(data) if data else {}


def _load(configuration: Any, kubeconfig: Path | None, context: str | None) -> None:
    """Fill ``configuration`` from ``kubeconfig`` (default: in-cluster, then the default file)."""
    from kubernetes import config

    if kubeconfig is None and context is None:
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except config.ConfigException:
            config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=str(kubeconfig) if kubeconfig else None,
            context=context,
            client_configuration=configuration,
        )
