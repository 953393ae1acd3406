"""The health wait's watch delivers each watched object's new state as the server reports it."""

from __future__ import annotations

from typing import Any

import pytest

from csops.syncer.health import RECHECK
from csops.syncer.kube import Kube
from csops.syncer.objects import Resource
from csops.syncer.objectwatch import ObjectWatch, Target

pytestmark = pytest.mark.integration

LABEL = "csops.test/health-watch"


def _next_matching(watch: ObjectWatch, want: Any) -> None:
    """Events until one satisfies ``want`` (the watch may repeat a state it listed)."""
    for _ in range(20):
        event = watch.next(30)
        assert event is not None, "no event within 30 s"
        if want(event):
            return
    raise AssertionError("the expected event never came")


def test_changes_and_deletion_arrive_from_the_watch(kube: Kube, namespace: str) -> None:
    configmaps = kube.resource("v1", "ConfigMap")
    body = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "watched", "namespace": namespace, "labels": {LABEL: "yes"}},
        "data": {"n": "0"},
    }
    kube.create(configmaps, body)
    watch = ObjectWatch(
        kube,
        {"cm": Target(configmaps, namespace, "watched")},
        label_selector=f"{LABEL}=yes",
        rewatch_seconds=5,
    )
    try:
        _next_matching(watch, lambda e: e[0] == "cm" and e[1] and e[1]["data"] == {"n": "0"})
        live = kube.get(configmaps, namespace, "watched")
        live["data"] = {"n": "1"}
        kube.replace(configmaps, live)
        _next_matching(watch, lambda e: e[0] == "cm" and e[1] and e[1]["data"] == {"n": "1"})
        kube.delete(configmaps, namespace, "watched")
        _next_matching(watch, lambda e: e == ("cm", None))
    finally:
        watch.close()


def test_a_watch_the_server_refuses_asks_for_reading_again(kube: Kube, namespace: str) -> None:
    missing = Resource("csops.test", "v1", "Nothing", "nothings", True)
    watch = ObjectWatch(
        kube, {"x": Target(missing, namespace, "x")}, label_selector=None, rewatch_seconds=5
    )
    try:
        assert watch.next(30) == (RECHECK, None)
        assert watch.broken.is_set()
    finally:
        watch.close()
