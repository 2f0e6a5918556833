"""Issue #19: a hostile client campaign against the real server with its default limits. Stalled heads,
stalled bodies, 1,000 connections each announcing a 1 MiB body, and a pipelining flood, all at once:
another client is still answered within a second, and the server's peak RSS stays under the documented
1 GiB (docs/mock-limits.md)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mock_server.limits import LIMITS
from tests.running import MOCK, free_port

CAP_MB = 1024
AUTH = "Authorization: Bearer kbn_pat_demo\r\nContent-Type: application/json\r\n"
pytestmark = [
    pytest.mark.slow,  # servers, processes or a browser: make test, not make test-fast
    pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc for the server's memory"),
]


def _status_mb(pid: int, field: str) -> float:
    return int(Path(f"/proc/{pid}/status").read_text().split(f"{field}:")[1].split()[0]) / 1024


@contextlib.contextmanager
def _served() -> Iterator[tuple[int, tuple[str, int]]]:
    port = free_port()
    process = subprocess.Popen(
        [*MOCK, "--port", str(port), "--quiet", "--no-reload"], stdout=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(f"http://127.0.0.1:{port}/_mock/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.05)
        yield process.pid, ("127.0.0.1", port)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def _seconds_to_answer(server: tuple[str, int]) -> float:
    started = time.monotonic()
    headers = {"Authorization": "Bearer kbn_pat_demo"}
    assert requests.get(f"http://{server[0]}:{server[1]}/lead/ld_123", headers=headers, timeout=5).status_code == 200
    return time.monotonic() - started


def _connect(server: tuple[str, int], data: bytes) -> socket.socket | None:
    sock = socket.create_connection(server, timeout=5)
    try:
        sock.sendall(data)
    except OSError:  # refused (a 503) and closed while the body was still on its way
        sock.close()
        return None
    return sock


def test_a_hostile_campaign_delays_no_one_and_stays_under_the_memory_cap() -> None:
    big = LIMITS.max_request_bytes - 1
    with _served() as (pid, server):
        held: list[socket.socket] = []
        heads = [_connect(server, b"GET /lead/ld_123 HTTP/1.1\r\nHost: x\r\nX-Slow: ") for _ in range(200)]
        held += [sock for sock in heads if sock is not None]
        for _ in range(1_000):  # each announces 1 MiB, sends all of it but the last byte, and stalls
            head = f"PUT /lead/ld_123 HTTP/1.1\r\nHost: x\r\n{AUTH}X-Mock-Delay: 60000\r\nContent-Length: {big}\r\n\r\n"
            sock = _connect(server, head.encode() + b"{" + b" " * (big - 2))
            if sock is not None:
                held.append(sock)
        flood = socket.socket()
        flood.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        flood.connect(server)
        flood.settimeout(0.05)
        ends = time.monotonic() + 2
        while time.monotonic() < ends:
            with contextlib.suppress(TimeoutError):
                flood.send(b"GET /_mock/health HTTP/1.1\r\nHost: x\r\n\r\n" * 500)
        waits = [_seconds_to_answer(server) for _ in range(5)]
        peak = _status_mb(pid, "VmHWM")
        for sock in [*held, flood]:
            sock.close()
    assert max(waits) < 1.0, waits
    assert peak < CAP_MB, f"peak RSS {peak:.0f} MB"


def test_connections_past_max_connections_wait_until_one_closes() -> None:
    """`max_connections` (granian's backpressure) caps the connections served at once, so their memory:
    the next one waits in the kernel's backlog, and is answered as soon as one of them closes."""
    with _served() as (_, server):
        stalled = [
            _connect(server, b"GET /lead/ld_123 HTTP/1.1\r\nHost: x\r\nX-Slow: ") for _ in range(LIMITS.max_connections)
        ]
        waiting = socket.create_connection(server, timeout=5)
        waiting.sendall(b"GET /_mock/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        waiting.settimeout(1.5)
        with pytest.raises(TimeoutError):
            waiting.recv(1)
        for sock in stalled[:10]:
            assert sock is not None
            sock.close()
        waiting.settimeout(5)
        assert waiting.recv(12) == b"HTTP/1.1 200"
        for sock in [*stalled[10:], waiting]:
            if sock is not None:
                sock.close()
