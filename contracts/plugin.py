"""How a caller hands the suite its target: a pytest plugin object, not the environment.

`pytest.main([...], plugins=[TargetPlugin(target)])` runs the suite against `target`; with `app`, an
in-process WSGI app (a variant of the mock) is the target instead of a fresh mock.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from contracts.target import Target


@dataclass(frozen=True)
class TargetPlugin:
    target: Target
    app: Any = None
    reset: Callable[[], None] | None = None
    throttle: Any = None  # the run's Throttle, when the caller made it (requests it already sent count)
    blockage: Any = None  # shared by the workers of one run (contracts.fanout); None: the run's own
    quiet: Any = None  # likewise: no write of one worker while another reads for consistency
    lost: Any = None  # likewise: why the target was lost mid-run (contracts.transient)

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[TARGET_KEY] = self


TARGET_KEY = pytest.StashKey[TargetPlugin]()
RUN_KEY = pytest.StashKey[Any]()  # the Run the session built, for the runner's report


@contextlib.contextmanager
def shielded_from_signals() -> Iterator[None]:
    """Clean-up runs to its end: a second Ctrl-C or a SIGTERM during it is noted, not obeyed.

    (Clean-up is bounded on its own: a request timeout per call, a few calls per lead.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda number, frame: received.append(number))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received:
            print(f"leadvibe-contracts: clean-up finished before obeying signal {received[0]}", file=sys.stderr)
