"""The run's request rate and budget, shared by every request it causes, in one process or several.

A run with a few requests in flight (LEADVIBE_CONCURRENCY, pytest-xdist workers) still sends at most
`rate` requests per second and `budget` in all: the counters live in a small file, read and written
under an exclusive lock, so that every worker draws its next slot and its next request from the same
place. A run of one process keeps them in memory.

Clean-up has its own reserve, booked as the run goes: each lead the run may create books the requests
needed to prove and delete it before it is created, so the tests can never starve clean-up. A process
that has started its clean-up spends the reserve; the others cannot touch it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


class BudgetExhausted(Exception):
    """The run used its whole request budget (LEADVIBE_MAX_REQUESTS)."""


@dataclass
class Counters:
    """What every process of the run sees alike."""

    interval: float  # seconds between two requests (1 / rate)
    budget: int
    used: int = 0
    reserve: int = 0  # requests kept for clean-up, not yet spent
    next_slot: float = 0.0  # time.monotonic() of the earliest next request (one clock per machine)

    _LAYOUT = struct.Struct("<dqqqd")

    def pack(self) -> bytes:
        return self._LAYOUT.pack(self.interval, self.budget, self.used, self.reserve, self.next_slot)

    @classmethod
    def unpack(cls, data: bytes) -> Counters:
        interval, budget, used, reserve, next_slot = cls._LAYOUT.unpack(data)
        return cls(interval, budget, used, reserve, next_slot)


class _MemoryCounters:
    def __init__(self, counters: Counters) -> None:
        self._counters = counters
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def locked(self) -> Iterator[Counters]:
        with self._lock:
            yield self._counters


class _FileCounters:
    """The counters in a file, changed only under `flock` (between processes) and a lock (threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def locked(self) -> Iterator[Counters]:
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                counters = Counters.unpack(os.pread(self._fd, Counters._LAYOUT.size, 0))
                yield counters
                os.pwrite(self._fd, counters.pack(), 0)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


# Requests are spaced by (1 + HEADROOM) / rate: the rate+1 requests that would have to land within one
# second are 1.2 s apart at their source, so delays on the way (a slow sleep, a busy machine, the network)
# of up to 0.2 s cannot push more than `rate` of them into any one-second window at the target. With 0.1 a
# loaded 2-core machine put 6 requests of a run at 5/s into one second at the target (tests/live).
HEADROOM = 0.2


class Throttle:
    """At most `rate` requests in any one second and `budget` in all; `reserve` kept for clean-up from the start."""

    def __init__(self, rate: float, budget: int, reserve: int = 0, *, shared_at: Path | None = None) -> None:
        counters = Counters((1.0 + HEADROOM) / rate, budget, reserve=min(reserve, budget // 2))
        if shared_at is None:
            self._store: _MemoryCounters | _FileCounters = _MemoryCounters(counters)
        else:
            shared_at.write_bytes(counters.pack())
            self._store = _FileCounters(shared_at)
        self._cleaning = False

    @classmethod
    def attach(cls, path: Path) -> Throttle:
        """The throttle another process of the same run created at `path`."""
        throttle = cls.__new__(cls)
        throttle._store = _FileCounters(path)
        throttle._cleaning = False
        return throttle

    @property
    def shared_at(self) -> Path | None:
        return self._store.path if isinstance(self._store, _FileCounters) else None

    @property
    def budget(self) -> int:
        with self._store.locked() as counters:
            return counters.budget

    @property
    def used(self) -> int:
        with self._store.locked() as counters:
            return counters.used

    def book(self, requests: int) -> None:
        """Keep `requests` more for clean-up; BudgetExhausted if the budget cannot hold them."""
        with self._store.locked() as counters:
            if counters.used + counters.reserve + requests > counters.budget:
                raise BudgetExhausted(
                    f"the budget of {counters.budget} requests cannot keep {requests} more for clean-up; "
                    "raise LEADVIBE_MAX_REQUESTS or lower LEADVIBE_MAX_EXAMPLES"
                )
            counters.reserve += requests

    def start_cleanup(self) -> None:
        """From now on this process spends the reserve (its own leads' share of it)."""
        self._cleaning = True

    def acquire(self) -> None:
        """One request: counted, within the budget, and not before its slot (then it waits for it)."""
        with self._store.locked() as counters:
            if self._cleaning and counters.reserve > 0:
                counters.reserve -= 1
            elif counters.used + counters.reserve >= counters.budget:
                raise BudgetExhausted(
                    f"the run used its budget of {counters.budget - counters.reserve} requests (of "
                    f"{counters.budget}, {counters.reserve} kept for clean-up); raise LEADVIBE_MAX_REQUESTS or "
                    "lower LEADVIBE_MAX_EXAMPLES"
                )
            counters.used += 1
            now = time.monotonic()
            wait = counters.next_slot - now
            counters.next_slot = max(now, counters.next_slot) + counters.interval
        if wait > 0:
            time.sleep(wait)
