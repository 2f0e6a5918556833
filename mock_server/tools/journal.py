"""What happened: one readable log line per request, and the recent requests at `/_mock/requests`.

Why in the serving layer: only there are the whole time (delay and body read included) and the final
status known. The reason of a 4xx is read back from the problem document the app sent (only for
errors, so the plain path pays nothing for it). Credentials never appear: the line holds the method,
path, query, status, time and verdict; the journal also the request's headers (the values of
`Authorization`, `Cookie` and `Proxy-Authorization` replaced by `[redacted]`), and the first
`BODY_KEPT` bytes of the request and response bodies, as WireMock's request journal does.

Writes are buffered and flushed once per event-loop turn, not once per line: a line costs a few
microseconds, a flush per request would cost a system call each. An entry is kept as the raw facts and
made readable only when `/_mock/requests` asks (building it per request was a quarter of a GET's time).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

import orjson

JOURNAL_SIZE = 200
BODY_KEPT = 2048  # bytes of each body kept per entry: 200 entries stay under a megabyte
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
REDACTED = "[redacted]"


@dataclass
class Journal:
    """A ring of the newest requests, and the log printer (silent with `quiet`)."""

    quiet: bool = False
    size: int = JOURNAL_SIZE
    out: TextIO = field(default_factory=lambda: sys.stdout)
    entries: deque[tuple[Any, ...]] = field(init=False)
    _flush_pending: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self.entries = deque(maxlen=self.size)

    def record(
        self,
        method: str,
        path: str,
        query: str,
        status: int,
        seconds: float,
        body: bytes = b"",
        note: str | None = None,
        *,
        keep: bool = True,
        headers: Iterable[tuple[str, str]] = (),
        request_body: bytes = b"",
    ) -> None:
        """Log the request, and keep it in the journal unless `keep` is false (the admin API's own)."""
        if keep:
            entry = (time.time(), method, path, query, status, seconds, note, tuple(headers))
            self.entries.append((*entry, request_body[:BODY_KEPT], body[:BODY_KEPT]))
        if self.quiet:
            return
        reason = _reason_of(status, body)
        extra = f"  {reason}" if reason else ""
        extra += f"  [{_printable(note)}]" if note else ""
        target = _printable(f"{path}?{query}" if query else path)
        self.out.write(f"{time.strftime('%H:%M:%S')} {method} {target} {status} {seconds * 1000:.1f}ms{extra}\n")
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.out.flush()
            return
        self._flush_pending = True
        loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_pending = False
        self.out.flush()

    def recent(self, limit: int) -> list[dict[str, Any]]:
        """Newest first."""
        return [_readable(*entry) for entry in list(reversed(self.entries))[:limit]]

    def clear(self) -> None:
        self.entries.clear()


def _reason_of(status: int, body: bytes) -> str | None:
    return _printable(_reason(body)) if status >= 400 and body else None


def _readable(
    at: float,
    method: str,
    path: str,
    query: str,
    status: int,
    seconds: float,
    note: str | None,
    headers: tuple[tuple[str, str], ...],
    request_body: bytes,
    body: bytes,
) -> dict[str, Any]:
    """An entry as `/_mock/requests` shows it."""
    reason = _reason_of(status, body)
    return {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at)),
        "method": method,
        "path": _printable(f"{path}?{query}" if query else path),
        "status": status,
        "ms": round(seconds * 1000, 2),
        "verdict": _printable(note)
        if note
        else ("ok" if status < 400 else f"rejected: {reason}" if reason else "rejected"),
        "query": _printable(query),
        "headers": {
            _printable(name): REDACTED if name in SECRET_HEADERS else _printable(value) for name, value in headers
        },
        "body": _text(request_body),
        "response": _text(body),
    }


def _text(data: bytes) -> str:
    """The first BODY_KEPT bytes of a body, as printable text (an undecodable byte escaped)."""
    return _printable(data[:BODY_KEPT].decode("utf-8", "backslashreplace"))


def _printable(text: str | None) -> str:
    """What a client sent, safe in a log line and in JSON: a line break, an escape sequence or an
    undecodable byte (a surrogate escape) is written as its backslash escape, so no request forges a
    log line or colours a terminal."""
    if not text:
        return ""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


def _reason(body: bytes) -> str | None:
    """The problem's detail, and the fields it names."""
    try:
        problem = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(problem, dict):
        return None
    detail = str(problem.get("detail", ""))
    fields = [
        f"{e.get('in')} {e.get('name')}" + ("" if e.get("detail") == detail else f": {e.get('detail')}")
        for e in problem.get("errors", [])[:3]
        if isinstance(e, dict)
    ]
    return "; ".join([detail, *fields]) if fields else detail
