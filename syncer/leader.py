"""Leader election on a ``coordination.k8s.io/v1`` Lease: only the holder writes.

The holder renews every ``renew_every`` seconds and considers itself leader only until
``lease_duration`` minus a safety margin after its last successful renewal, so it stops
writing before another replica may take over an expired lease. Releasing on shutdown clears the
holder so a standby takes over at once.
"""

from __future__ import annotations

import threading

from csops.syncer.clock import SYSTEM, Clock
from csops.syncer.clock import micro_timestamp as _micro
from csops.syncer.clock import parse_timestamp as _parse
from csops.syncer.errors import ApiError
from csops.syncer.kube import Kube
from csops.syncer.objects import Resource

LEASE = Resource("coordination.k8s.io", "v1", "Lease", "leases", True)


class LeaderElector:
    def __init__(
        self,
        kube: Kube,
        name: str,
        namespace: str,
        identity: str,
        *,
        lease_duration: float = 15.0,
        renew_every: float | None = None,
        clock: Clock = SYSTEM,
    ) -> None:
        self.kube = kube
        self.name = name
        self.namespace = namespace
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_every = renew_every or max(0.2, lease_duration / 3)
        self.clock = clock
        self._valid_until = 0.0
        self._lock = threading.Lock()

    def is_leader(self) -> bool:
        with self._lock:
            return self.clock.monotonic() < self._valid_until

    def try_acquire_or_renew(self) -> bool:
        started = self.clock.monotonic()
        now = self.clock.time()
        spec = {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.lease_duration)),
            "renewTime": _micro(now),
        }
        try:
            lease = self.kube.get_or_none(LEASE, self.namespace, self.name)
            if lease is None:
                spec["acquireTime"] = _micro(now)
                spec["leaseTransitions"] = 0
                self.kube.create(
                    LEASE,
                    {
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": {"name": self.name, "namespace": self.namespace},
                        "spec": spec,
                    },
                )
            else:
                current = lease.get("spec") or {}
                holder = current.get("holderIdentity") or ""
                expires = _parse(current.get("renewTime")) + float(
                    current.get("leaseDurationSeconds") or self.lease_duration
                )
                if holder and holder != self.identity and now < expires:
                    self._lose()
                    return False
                if holder != self.identity:
                    spec["acquireTime"] = _micro(now)
                    spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0) + 1
                else:
                    spec["acquireTime"] = current.get("acquireTime") or _micro(now)
                    spec["leaseTransitions"] = int(current.get("leaseTransitions") or 0)
                lease["spec"] = spec
                self.kube.replace(LEASE, lease)  # resourceVersion guards against a race
        except ApiError:
            self._lose()
            return False
        with self._lock:
            self._valid_until = started + self.lease_duration * 0.75
        return True

    def _lose(self) -> None:
        with self._lock:
            self._valid_until = 0.0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.try_acquire_or_renew()
            stop.wait(self.renew_every)

    def release(self) -> None:
        if not self.is_leader():
            return
        self._lose()
        try:
            lease = self.kube.get_or_none(LEASE, self.namespace, self.name)
            if lease and (lease.get("spec") or {}).get("holderIdentity") == self.identity:
                lease["spec"]["holderIdentity"] = ""
                self.kube.replace(LEASE, lease)
        except ApiError:
            pass
