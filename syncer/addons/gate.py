"""The upgrade gate behind ``BeforeClusterUpgrade`` — pure, and never closed forever.

State per upgrade is keyed by the target class (a new target, e.g. after a failed release,
starts a fresh state). The gate opens when the target class's addons are applied, or when the
timeout passes — then the upgrade proceeds and the ClusterAddon says so (``UpgradeTimedOut``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

UPGRADE_ANNOTATION = "addons.csops.dev/upgrade"
INITIALIZED_ANNOTATION = "addons.csops.dev/control-plane-initialized"
RETRY_AFTER = 10


@dataclass(frozen=True)
class UpgradeState:
    target: str
    to_version: str
    since: float

    def encode(self) -> str:
        return json.dumps(
            {"target": self.target, "toVersion": self.to_version, "since": self.since},
            sort_keys=True,
        )


@dataclass(frozen=True)
class Decision:
    proceed: bool
    message: str
    retry_after: int = 0
    timed_out: bool = False


def state_of(addon: dict[str, Any] | None) -> UpgradeState | None:
    annotations = ((addon or {}).get("metadata") or {}).get("annotations") or {}
    raw = annotations.get(UPGRADE_ANNOTATION)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return UpgradeState(
            str(data["target"]), str(data.get("toVersion", "")), float(data["since"])
        )
    except (ValueError, KeyError, TypeError):
        return None


def begin(state: UpgradeState | None, target: str, to_version: str, now: float) -> UpgradeState:
    """The state for an upgrade to ``target``: kept when it is the same upgrade, else fresh."""
    if state is not None and state.target == target and state.to_version == to_version:
        return state
    return UpgradeState(target, to_version, now)


def applied(addon: dict[str, Any] | None, target: str) -> bool:
    """The ClusterAddon records ``target`` as fully applied."""
    if addon is None:
        return False
    spec = addon.get("spec") or {}
    status = addon.get("status") or {}
    return spec.get("clusterStack") == target and bool(status.get("ready")) and not spec.get("hook")


def decide(
    state: UpgradeState,
    addon: dict[str, Any] | None,
    now: float,
    timeout: float,
    retry_after: int = RETRY_AFTER,
) -> Decision:
    if applied(addon, state.target):
        return Decision(True, f"addons of {state.target} are applied")
    waited = now - state.since
    if waited >= timeout:
        return Decision(
            True,
            f"addons of {state.target} not applied after {waited:.0f}s (timeout {timeout:.0f}s); "
            "letting the upgrade proceed — see the ClusterAddon's conditions",
            timed_out=True,
        )
    return Decision(
        False,
        f"waiting for the addons of {state.target} to be applied ({waited:.0f}s of {timeout:.0f}s)",
        retry_after=retry_after,
    )
