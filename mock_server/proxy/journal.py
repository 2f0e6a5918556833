"""The validating proxy's journal: one JSON line per exchange, and the summary printed at exit.

A line holds what was judged, never what could be a secret: method, path, operation, status, verdict and
findings (where and what, e.g. `undeclared header x-debug`), but no header value, no cookie, no query
string and no body value. The summary is read back from the journal file once the
server stops, so it holds every exchange the file does, whatever happened to the server's memory.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OK = "ok"
REQUEST_VIOLATION = "request-violation"
RESPONSE_VIOLATION = "response-violation"
DRIFT = "drift"
UPSTREAM_ERROR = "upstream-error"
# The worst finding names the verdict.
VERDICT_ORDER = (REQUEST_VIOLATION, RESPONSE_VIOLATION, UPSTREAM_ERROR, DRIFT, OK)


@dataclass(frozen=True)
class Finding:
    verdict: str  # one of VERDICT_ORDER but OK
    detail: str  # e.g. "query limit: 500 is greater than the maximum of 100", "undeclared field /level"


@dataclass
class Exchange:
    method: str
    path: str
    operation: str | None
    status: int
    findings: list[Finding] = field(default_factory=list)
    at: float = field(default_factory=time.time)

    @property
    def verdict(self) -> str:
        found = {finding.verdict for finding in self.findings}
        return next((verdict for verdict in VERDICT_ORDER if verdict in found), OK)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": round(self.at, 3),
            "verdict": self.verdict,
            "method": self.method,
            "path": self.path,
            "operation": self.operation,
            "status": self.status,
            "findings": [asdict(finding) for finding in self.findings],
        }


class Journal:
    """Appends exchanges as JSON lines; thread-safe, flushed per line (the worker may be killed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("", encoding="utf-8")

    def record(self, exchange: Exchange) -> None:
        line = json.dumps(exchange.to_dict(), ensure_ascii=False) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(line)


def read_journal(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a kill
    return entries


def summary(entries: Sequence[dict[str, Any]], journal: Path) -> str:
    """Counts per verdict, then each distinct finding with how often and where it was seen."""
    verdicts = Counter(entry["verdict"] for entry in entries)
    lines = [
        f"leadvibe-mock --proxy: {len(entries)} exchange(s): "
        + ", ".join(f"{verdicts[v]} {v}" for v in reversed(VERDICT_ORDER) if verdicts[v])
        + f"; journal {journal}"
    ]
    seen: Counter[tuple[str, str, str]] = Counter()
    for entry in entries:
        where = entry.get("operation") or f"{entry['method']} {entry['path']}"
        for finding in entry.get("findings", []):
            seen[(finding["verdict"], where, finding["detail"])] += 1
    for (verdict, where, detail), count in sorted(seen.items(), key=lambda item: VERDICT_ORDER.index(item[0][0])):
        lines.append(f"  {verdict:<18} {where}: {detail} (x{count})")
    return "\n".join(lines)
