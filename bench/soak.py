"""The soak section (`python -m bench --only soak`): a bounded run of mixed traffic against the mock.

Why: issue #10 asks that memory levels off under any stream of valid requests (the state limits of
openapi.yaml's `info`) and that the tail stays low for minutes, not seconds. Keep-alive clients in
threads send a mix of reads (lead, list, filtered list, score explain), writes (PUT, PATCH) and ingests
(half of them creating a lead with a new alias, so that the OU fills up to its limit and then answers
409 limit-reached); every interval records throughput, p99, p99.9 and the server's RSS and PSS.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests

from bench.processes import group_memory, serve, wait_ready
from bench.targets import mock_cli

AUTH = {"Authorization": "Bearer kbn_pat_demo"}
CLIENTS = 4


@dataclass
class Interval:
    second: float
    requests: int
    p99_ms: float
    p999_ms: float
    rss_mib: float
    pss_mib: float
    leads: int
    statuses: dict[int, int] = field(default_factory=dict)


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _mix(base: str, counter: itertools.count[int]) -> list[tuple[int, Callable[[requests.Session], requests.Response]]]:
    """(weight, request) pairs: mostly reads, with writes and lead-creating ingests."""
    json_headers = {**AUTH, "Content-Type": "application/json"}

    def new_lead(session: requests.Session) -> requests.Response:
        alias = {"alias_kind": "email", "raw_value": f"soak-{next(counter)}@soak.invalid"}
        body = {"event_type": "page_view", "aliases": [alias], "metadata": {"path": "/pricing"}}
        return session.post(f"{base}/ingest", json=body, headers=json_headers, timeout=10)

    return [
        (30, lambda s: s.get(f"{base}/lead/ld_123", headers=AUTH, timeout=10)),
        (15, lambda s: s.get(f"{base}/leads?limit=25", headers=AUTH, timeout=10)),
        (5, lambda s: s.get(f"{base}/leads?event_type=page_view&last_active=7d", headers=AUTH, timeout=10)),
        (5, lambda s: s.get(f"{base}/lead/ld_123/score-explain?hours=72", headers=AUTH, timeout=10)),
        (10, lambda s: s.put(f"{base}/lead/ld_123", json={"owner_name": "Soak"}, headers=json_headers, timeout=10)),
        (5, lambda s: s.patch(f"{base}/lead/ld_123/metadata", json={"k": 1}, headers=json_headers, timeout=10)),
        (
            15,
            lambda s: s.post(
                f"{base}/ingest",
                json={"event_type": "email_open", "lead_id": "ld_123"},
                headers=json_headers,
                timeout=10,
            ),
        ),
        (15, new_lead),
    ]


def soak(seconds: float, interval_s: float, log_dir: Path) -> list[Interval]:
    """Run the mix for `seconds` against a fresh mock; one Interval per `interval_s`."""
    intervals: list[Interval] = []
    with serve(mock_cli("leadvibe-mock (soak)"), log_dir) as server:
        wait_ready(server)
        base = server.base_url
        mix = _mix(base, itertools.count())
        weights = [weight for weight, _ in mix]
        lock = threading.Lock()
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        stop = threading.Event()

        def client(seed: int) -> None:
            rng = random.Random(seed)
            session = requests.Session()
            while not stop.is_set():
                call = rng.choices(mix, weights)[0][1]
                started = time.perf_counter()
                status = call(session).status_code
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1

        workers = [threading.Thread(target=client, args=(index,), daemon=True) for index in range(CLIENTS)]
        for worker in workers:
            worker.start()
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            time.sleep(min(interval_s, seconds - elapsed))
            with lock:
                taken, latencies[:] = list(latencies), []
                counts = dict(statuses)
                statuses.clear()
            memory = group_memory(server.process.pid)
            leads = requests.get(f"{base}/_mock/health", timeout=10).json()["leads"]
            intervals.append(
                Interval(
                    second=round(time.monotonic() - started, 1),
                    requests=len(taken),
                    p99_ms=_percentile(taken, 0.99) * 1000,
                    p999_ms=_percentile(taken, 0.999) * 1000,
                    rss_mib=memory.rss_kib / 1024,
                    pss_mib=memory.pss_kib / 1024,
                    leads=leads,
                    statuses=counts,
                )
            )
        stop.set()
        for worker in workers:
            worker.join(timeout=15)
    return intervals


def markdown(intervals: list[Interval], interval_s: float) -> str:
    lines = [
        "## Soak",
        "",
        f"{CLIENTS} keep-alive Python clients, mixed reads, writes and ingests (half of the ingests create a lead).",
        "",
        "| t (s) | req/s | p99 ms | p99.9 ms | RSS MiB | PSS MiB | leads | statuses |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in intervals:
        shown = ", ".join(f"{status}: {count}" for status, count in sorted(row.statuses.items()))
        lines.append(
            f"| {row.second:g} | {row.requests / interval_s:,.0f} | {row.p99_ms:.2f} | {row.p999_ms:.2f} "
            f"| {row.rss_mib:.0f} | {row.pss_mib:.0f} | {row.leads:,} | {shown} |"
        )
    return "\n".join(lines) + "\n"
