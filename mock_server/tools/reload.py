"""Reload on edit: a changed openapi.yaml or seed file is served without a restart.

Why polling (once a second, two `stat` calls) rather than inotify: no extra dependency, and it works on
any file system (Docker bind mounts, network drives) where editors replace files in various ways.

What is kept: after an edit of openapi.yaml the leads, the failure rules, the scenario and the journal stay;
validation and routes are the new spec's (the mock's limits are its own: mock_server.limits). After an edit of
the seed the leads are the new seed's (in the current scenario). An edit that does not load (bad YAML, a spec
the handlers do not match, a seed that breaks the contract) keeps the last good version serving, and says why.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from leadvibe_contract.contract import default_spec_path, load_contract
from mock_server.api.app import create_app
from mock_server.api.state import mock_state
from mock_server.config import MockConfig
from mock_server.serving.server import BoundedBodyApp

log = logging.getLogger("mock_server")
INTERVAL_SECONDS = 1.0


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


class Reloader:
    """Watches the spec and the seed of `config`; swaps the app `server` runs."""

    def __init__(self, server: BoundedBodyApp, config: MockConfig) -> None:
        self.server = server
        self.config = config
        self.spec_path = config.spec_path or default_spec_path()
        self.seed_path = config.seed_path
        self.seen = (_mtime(self.spec_path), _mtime(self.seed_path))
        self.task: asyncio.Task[None] | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.task = loop.create_task(self.watch())

    async def watch(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL_SECONDS)
            self.check()

    def check(self) -> bool:
        """Reload if a file changed since the last look; True when a new version is now served."""
        now = (_mtime(self.spec_path), _mtime(self.seed_path))
        if now == self.seen:
            return False
        spec_changed, seed_changed = now[0] != self.seen[0], now[1] != self.seen[1]
        self.seen = now
        return self.reload(spec_changed=spec_changed, seed_changed=seed_changed)

    def reload(self, *, spec_changed: bool, seed_changed: bool) -> bool:
        controls = self.server.controls
        changed = " and ".join(
            str(path) for path, flag in ((self.spec_path, spec_changed), (self.seed_path, seed_changed)) if flag
        )
        old: Any = self.server.app
        load_contract.cache_clear()
        try:
            app = create_app(self.config, controls=controls, store=None if seed_changed else mock_state(old).store)
        except Exception as exc:  # any failure to load: keep serving the last good version
            controls.reload_error = f"{changed}: {exc}"
            _say(f"leadvibe-mock: NOT reloaded, still serving the last good version. {changed}: {exc}")
            return False
        self.server.app = app
        controls.reload_error = None
        kept = "leads reset to the new seed" if seed_changed else "leads kept"
        _say(f"leadvibe-mock: reloaded {changed} ({kept})")
        return True


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
