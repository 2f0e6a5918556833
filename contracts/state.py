"""Where runs keep their ledgers: one folder per run under LEADVIBE_STATE_DIR, locked while the run lives.

Two runs that share a state folder (two jobs from one checkout, or a CI cache restored into both) never
sweep each other's live leads: a run holds an exclusive lock on its own folder for as long as it runs, and
the sweep of earlier runs takes only the folders whose lock it can take (those of ended or killed runs:
the kernel releases a killed process's lock). A folder whose ledger has nothing open left is removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from contracts.ownership import Ledger, token_id


class FolderBusy(Exception):
    """Another living run holds the folder."""


class FolderLock:
    """An exclusive, non-blocking `flock` on `folder/.lock`, held until `release` (or the process ends)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise FolderBusy(f"{folder} is in use by another run") from None

    def release(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


def ledger_of(folder: Path, base_url: str, token: str) -> Ledger:
    return Ledger(folder / "ledger.jsonl", base_url, token_id(token))


def retire(folder: Path) -> None:
    """Remove a run's folder once its ledger holds nothing open (call while holding its lock)."""
    if not (folder / "ledger.jsonl").exists():
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def earlier_runs(
    root: Path, base_url: str, token: str, own: Path | None = None
) -> Iterator[tuple[list[Ledger], list[str]]]:
    """The ledgers of the runs that have ended (each folder locked while the caller sweeps it), and a
    note for each run still in progress, whose leads are left to it; `own` is the caller's run folder."""
    ledgers: list[Ledger] = []
    busy: list[str] = []
    locks: list[FolderLock] = []
    legacy = root / "ledger.jsonl"  # the layout before one folder per run: swept like an ended run
    if legacy.exists():
        ledgers.append(Ledger(legacy, base_url, token_id(token)))
    folders = sorted(path for path in (root / "runs").glob("*") if path.is_dir() and path != own)
    for folder in folders:
        try:
            locks.append(FolderLock(folder))
        except FolderBusy:
            busy.append(f"run {folder.name} is in progress: its leads are left to it")
            continue
        ledgers.append(ledger_of(folder, base_url, token))
    try:
        yield ledgers, busy
    finally:
        for lock in locks:
            retire(lock.folder)
            lock.release()
