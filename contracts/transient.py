"""Transient answers are not contract failures: 429 and 503 are retried, honouring `Retry-After`.

A contract check only ever judges a definitive answer. A target that keeps answering 429/503, or that
cannot be reached, raises `TargetUnavailable`: the run's verdict is then "target unavailable" (its own
exit code), never "contract broken". Every retry is recorded for the run's report.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import requests

from contracts.blockage import Blockage

TRANSIENT_STATUSES = frozenset({429, 503})
T = TypeVar("T")


class TargetUnavailable(Exception):
    """The target did not give a definitive answer (unreachable, or 429/503 after every retry)."""


def retry_after_seconds(value: str | None, default: float) -> float:
    """`Retry-After` as seconds: a number or an HTTP date; `default` when absent or unreadable."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError):
        return default


@dataclass
class RetryPolicy:
    """Up to `attempts` sends per request; waits follow `Retry-After`, else back off from `base_wait`.

    Once one request found the target unavailable (`lost`, shared by the workers of a run), every later
    request of the run fails at once: a target lost mid-run gets its verdict within one request's retries,
    not after every remaining test has waited through its own.
    """

    attempts: int = 4
    base_wait: float = 0.5
    max_wait: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    log: list[dict[str, Any]] = field(default_factory=list)
    lost: Blockage = field(default_factory=Blockage)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(
        self,
        label: str,
        attempt: Callable[[], T],
        status_of: Callable[[T], int],
        retry_after_of: Callable[[T], str | None],
    ) -> T:
        if self.lost.reason is not None:
            raise TargetUnavailable(f"{label}: not sent, the target was lost earlier in the run ({self.lost.reason})")
        waited = 0.0
        for number in range(1, self.attempts + 1):
            try:
                answer = attempt()
            except (requests.ConnectionError, requests.Timeout) as exc:
                if number == self.attempts:
                    raise self._lost(f"{label}: no answer after {number} attempts ({exc.__class__.__name__})") from None
                wait = self.base_wait * 2 ** (number - 1)
            else:
                status = status_of(answer)
                if status not in TRANSIENT_STATUSES:
                    if number > 1:
                        self._record(label, number, waited, status)
                    return answer
                if number == self.attempts:
                    self._record(label, number, waited, status)
                    raise self._lost(f"{label}: answered {status} to all {number} attempts")
                wait = retry_after_seconds(retry_after_of(answer), self.base_wait * 2 ** (number - 1))
            wait = min(wait, self.max_wait)
            waited += wait
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _lost(self, reason: str) -> TargetUnavailable:
        self.lost.claim(reason)
        return TargetUnavailable(reason)

    def _record(self, label: str, attempts: int, waited: float, status: int) -> None:
        with self._lock:
            self.log.append({"request": label, "attempts": attempts, "waited_s": round(waited, 2), "status": status})
