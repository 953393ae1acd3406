"""The addon controller beside the sync loop (``csops sync --addons``).

It follows the revisions the sync loop applied: after each successful pass the controller (and
the hook handler) switch to that revision's ``releases/`` — the snapshot directory of the git
revision, so a half-fetched or later revision is never read. It reconciles only while the sync
loop's replica leads (``--leader-elect``), and stops with the sync loop's ``stop`` event.
"""

from __future__ import annotations

import threading

from csops.syncer import logs
from csops.syncer.addons.controller import AddonController
from csops.syncer.addons.hooks import HookHandler
from csops.syncer.controller import Controller
from csops.syncer.source import Revision

JOIN_TIMEOUT = 10.0


class AddonSidecar:
    def __init__(self, controller: AddonController, hooks: HookHandler | None = None) -> None:
        self.controller = controller
        self.hooks = hooks
        self.log = logs.get()
        self._thread: threading.Thread | None = None
        self._missing: str | None = None

    def on_synced(self, revision: Revision) -> None:
        """Switch to the releases of ``revision`` (called after a successful sync pass)."""
        releases = revision.rendered_root / "releases"
        if not releases.is_dir() and self._missing != revision.name:
            self._missing = revision.name
            self.log.warning(
                "the revision has no releases directory; no addons to apply",
                extra={"revision": revision.name, "releases": str(releases)},
            )
        if self.controller.set_releases(releases, revision.name) and self.hooks is not None:
            self.hooks.set_releases(releases)

    def attach(self, loop: Controller) -> AddonSidecar:
        """Follow ``loop``'s revisions and leadership."""
        loop.on_synced.append(self.on_synced)
        self.controller.options.may_run = loop.is_leader
        return self

    def start(self, stop: threading.Event) -> AddonSidecar:
        self._thread = threading.Thread(
            target=self.controller.run, args=(stop,), daemon=True, name="addons"
        )
        self._thread.start()
        return self

    def join(self, timeout: float = JOIN_TIMEOUT) -> None:
        """Wait for the controller to finish its running reconciles (bounded)."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self.log.warning("addon controller still busy at shutdown; leaving it")
