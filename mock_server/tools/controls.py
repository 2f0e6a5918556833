"""What a developer changes while the mock runs: failures and latency, the journal, the scenario.

One object per server, shared by the serving layer (which applies latency and logs) and the admin
endpoints (which change it); it outlives a reload of the spec or the seed, so a reload keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mock_server.tools.chaos import Chaos
from mock_server.tools.journal import Journal

NOTE_KEY = "leadvibe.note"  # the environ key where the app notes a forced or simulated response


def _no_route(method: str, path: str) -> str | None:
    return None


@dataclass
class Controls:
    chaos: Chaos = field(default_factory=Chaos)
    journal: Journal = field(default_factory=Journal)
    scenario: str = "demo"
    # (method, path) -> operationId, installed by the app (and replaced when it is rebuilt on reload).
    route: Callable[[str, str], str | None] = _no_route
    # The outcome of the last reload, for the banner and `/_mock/health`.
    reload_error: str | None = None
