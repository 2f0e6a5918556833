"""Why a run cannot go on (no lead of its own can be had, or the target was lost): found once, seen by all.

Kept in a file of the run's folder when the run has several workers, so exactly one test in the whole run
reports the reason and every other one acts on it at once instead of finding it again.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


class Blockage:
    """Why the run cannot go on: found by one test, of any worker of the run, seen by all.

    With `path` (the run's folder, shared by its workers) the first reason is a file, made by an atomic
    link, so exactly one test in the whole run reports it as a failure and the others skip.
    """

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._reason: str | None = None
        self._lock = threading.Lock()

    @property
    def reason(self) -> str | None:
        if self._reason is None and self._path is not None and self._path.exists():
            self._reason = self._path.read_text(encoding="utf-8")
        return self._reason

    def claim(self, reason: str) -> bool:
        """Record `reason`: True when it is the first, False when the run was blocked already."""
        with self._lock:
            if self.reason is not None:
                return False
            self._reason = reason
            if self._path is None:
                return True
            draft = self._path.with_name(f"{self._path.name}.{os.getpid()}")
            draft.write_text(reason, encoding="utf-8")
            try:
                os.link(draft, self._path)
            except FileExistsError:
                self._reason = None
                return False
            finally:
                draft.unlink()
            return True
