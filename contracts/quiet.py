"""No write of this run while a consistency walk reads: across the workers of a fanned-out run.

Some contracts read the same data several times and compare (pages must not repeat a lead and their
`total` must hold, the singular and plural paths must agree, top-leads must match the list). In a run of
one process nothing writes in between; with several workers (contracts.fanout), another worker's ingest
or clean-up would, and the contract would cry wolf. Such a test holds a `section` for its whole length;
every write of the run (semantic client and Schemathesis transport alike) happens under `writing`, which
waits while a section is held elsewhere.

Between processes: `flock` on two files of the run's folder, the classic turnstile so that a stream of
writes cannot starve a section (a section takes the turnstile, then the gate exclusively; a write passes
the turnstile, then takes the gate shared). A run of one process needs none of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


class Quiet:
    def __init__(self, folder: Path | None = None) -> None:
        self._fds: tuple[int, int] | None = None
        if folder is not None:
            flags = os.O_RDWR | os.O_CREAT
            self._fds = (
                os.open(folder / "quiet.turnstile", flags, 0o600),
                os.open(folder / "quiet.gate", flags, 0o600),
            )
        self._holding = 0  # sections this process holds (its own writes inside one do not wait for it)

    @contextlib.contextmanager
    def section(self) -> Iterator[None]:
        """No write of any other worker of the run until the block ends."""
        if self._fds is None or self._holding:
            yield
            return
        turnstile, gate = self._fds
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(gate, fcntl.LOCK_EX)
            self._holding += 1
            try:
                yield
            finally:
                self._holding -= 1
                fcntl.flock(gate, fcntl.LOCK_UN)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """One write: waits while another worker holds a section."""
        if self._fds is None or self._holding:
            yield
            return
        turnstile, gate = self._fds
        fcntl.flock(turnstile, fcntl.LOCK_EX)  # behind a section that is waiting for the gate
        fcntl.flock(turnstile, fcntl.LOCK_UN)
        fcntl.flock(gate, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(gate, fcntl.LOCK_UN)

    def release(self) -> None:
        """Let go of whatever this process holds: a signal (KeyboardInterrupt) that struck between taking a
        lock and the block that frees it leaves it held, and the other workers would wait for ever."""
        self._holding = 0
        for fd in self._fds or ():
            fcntl.flock(fd, fcntl.LOCK_UN)
