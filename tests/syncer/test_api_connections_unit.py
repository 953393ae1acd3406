"""What the API connections take from the client's configuration, and request bodies."""

from __future__ import annotations

import datetime
import json

import pytest
from kubernetes.client import Configuration

from csops.syncer import apiconnections

pytestmark = pytest.mark.unit


def _configuration(host: str = "https://10.0.0.1:6443/base/") -> Configuration:
    configuration = Configuration()
    configuration.host = host
    return configuration


def test_the_server_and_path_come_from_the_host() -> None:
    settings = apiconnections.settings_from(_configuration())
    assert settings is not None
    assert (settings.scheme, settings.host, settings.port, settings.base_path) == (
        "https",
        "10.0.0.1",
        6443,
        "/base",
    )
    assert settings.tls is not None
    plain = apiconnections.settings_from(_configuration("http://127.0.0.1"))
    assert plain is not None and (plain.port, plain.tls) == (80, None)


def test_a_token_is_asked_for_on_every_request() -> None:
    """A refresh hook (exec plugins, OIDC, the in-cluster token file) is honoured per request."""
    configuration = _configuration()
    configuration.api_key = {"authorization": "first"}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    tokens = iter(["second", "third"])

    def refresh(config: Configuration) -> None:
        config.api_key["authorization"] = next(tokens)

    configuration.refresh_api_key_hook = refresh
    settings = apiconnections.settings_from(configuration)
    assert settings is not None
    assert settings.credentials() == {"authorization": "Bearer second"}
    assert settings.credentials() == {"authorization": "Bearer third"}


def test_without_a_token_no_credentials_header() -> None:
    settings = apiconnections.settings_from(_configuration())
    assert settings is not None and settings.credentials() == {}


def test_a_proxy_is_left_to_the_clients_transport() -> None:
    configuration = _configuration()
    configuration.proxy = "http://proxy.example:3128"
    assert apiconnections.settings_from(configuration) is None


def test_bodies_are_json_with_dates_as_iso_text() -> None:
    body = {"a": datetime.date(2026, 12, 2), "b": datetime.datetime(2026, 12, 2, 8, 30), "c": [1]}
    assert json.loads(apiconnections.encode(body)) == {
        "a": "2026-12-02",
        "b": "2026-12-02T08:30:00",
        "c": [1],
    }
    with pytest.raises(TypeError, match="bytes"):
        apiconnections.encode({"d": b"raw"})
