"""The validating proxy against a hostile upstream and a hostile client of the tests' own (issue #21):
memory bounded whatever the upstream's errors, no path out of the upstream's base, slow exchanges that
do not starve the others, the mock's CORS, a busy port that leaves the first proxy's journal alone, one
Date, and the mock's own `Preference-Applied` not taken for drift.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.gate.variants import correct
from tests.running import PROXY, Proxy, free_port, serving

pytestmark = pytest.mark.slow  # servers, processes or a browser: make test, not make test-fast

AUTH = {"Authorization": "Bearer kbn_pat_demo"}
VERDICT = "X-Contract-Verdict"
UPSTREAM_DATE = "Sun, 06 Nov 1994 08:49:37 GMT"


class HostileUpstream:
    """An HTTP/1.1 server on its own event loop thread: records each request line as sent, answers
    `body_for(path)` (a 200 JSON body), and holds any request whose path contains `slow` for a minute."""

    def __init__(self, body_for: Callable[[str], bytes]) -> None:
        self.body_for = body_for
        self.lines: list[str] = []
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=512)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                self.lines.append(line)
                target = line.split(" ")[1]
                if "slow" in target:
                    await asyncio.sleep(60)
                body = self.body_for(target)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"date: {UPSTREAM_DATE}\r\ncontent-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        writer.close()

    def url(self, base: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{base}"

    async def _stop(self) -> None:
        self.server.close()
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def _lead() -> dict[str, Any]:
    from mock_server.api.app import create_app

    client = create_app().test_client()
    body: dict[str, Any] = client.get("/lead/ld_123", headers=AUTH).get_json()
    return body


@pytest.fixture
def upstreams() -> Iterator[Callable[[Callable[[str], bytes]], HostileUpstream]]:
    started: list[HostileUpstream] = []

    def start(body_for: Callable[[str], bytes]) -> HostileUpstream:
        upstream = HostileUpstream(body_for)
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        upstream.close()


def _raw(port: int, target: str) -> bytes:
    """A request line as a hostile client writes it (no client library normalizes it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer kbn_pat_demo\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_an_answer_with_thousands_of_errors_costs_little_memory(
    upstreams: Callable[[Callable[[str], bytes]], HostileUpstream], proxies: Callable[..., Proxy]
) -> None:
    """A page of 1,500 leads whose score is text: collecting every error object took the proxy to hundreds
    of MB (3,000 errors: 1.5 GB); the findings are still named, ten at most."""
    lead = _lead()
    plain = json.dumps(lead).encode()
    hostile = json.dumps({"leads": [{**lead, "score": "high"}] * 1500, "total": 1500, "page": 1, "limit": 25}).encode()
    upstream = upstreams(lambda target: hostile if target.startswith("/leads") else plain)
    proxy = proxies(upstream.url())
    assert requests.get(f"{proxy.base}/lead/ld_123", headers=AUTH, timeout=30).headers[VERDICT] == "ok"
    before = _peak_rss_mb(proxy.process.pid)
    answer = requests.get(f"{proxy.base}/leads", headers=AUTH, timeout=30)
    assert answer.content == hostile
    assert answer.headers[VERDICT] == "response-violation"
    grown = _peak_rss_mb(proxy.process.pid) - before
    assert grown < 60, f"the proxy's peak memory grew by {grown:.0f} MB judging one answer"
    findings = proxy.entries()[-1]["findings"]
    assert 1 <= len(findings) <= 10
    assert any("/leads/" in finding["detail"] for finding in findings), findings


@pytest.mark.parametrize(
    "target",
    [
        "/lead/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/lead/..%2f..%2f_mock%2freset",
        "/lead/%2E%2e/x",
        "/lead/ld_1%5c..%5c..%5cx",
        "/lead/./ld_123",
    ],
)
def test_no_path_leaves_the_upstreams_base(
    upstreams: Callable[[Callable[[str], bytes]], HostileUpstream], proxies: Callable[..., Proxy], target: str
) -> None:
    upstream = upstreams(lambda path: b"{}")
    proxy = proxies(upstream.url("/api/v1"))
    answer = _raw(int(proxy.base.rsplit(":", 1)[1]), target)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert b"application/problem+json" in answer
    assert upstream.lines == []  # never forwarded
    assert proxy.entries()[-1]["verdict"] == "request-violation"


def test_paths_go_upstream_as_sent_and_are_never_decoded_twice(
    upstreams: Callable[[Callable[[str], bytes]], HostileUpstream], proxies: Callable[..., Proxy]
) -> None:
    upstream = upstreams(lambda path: b"{}")
    proxy = proxies(upstream.url("/api/v1"))
    port = int(proxy.base.rsplit(":", 1)[1])
    for target in ("/lead/%252e%252e/%252e%252e/x", "/lead/ld_123", "/lead/caf%C3%A9?x=%2e%2e"):
        _raw(port, target)
    assert upstream.lines == [
        "GET /api/v1/lead/%252e%252e/%252e%252e/x HTTP/1.1",
        "GET /api/v1/lead/ld_123 HTTP/1.1",
        "GET /api/v1/lead/caf%C3%A9?x=%2e%2e HTTP/1.1",
    ]


def test_slow_exchanges_do_not_starve_the_others(
    upstreams: Callable[[Callable[[str], bytes]], HostileUpstream], proxies: Callable[..., Proxy]
) -> None:
    """110 requests the upstream holds (as with `X-Mock-Delay: 20000` passed upstream) filled httpx's pool
    of 100 connections: the next request waited for a slot until its 504."""
    lead = json.dumps(_lead()).encode()
    upstream = upstreams(lambda path: lead)
    proxy = proxies(upstream.url(), "--upstream-timeout", "30")
    port = int(proxy.base.rsplit(":", 1)[1])
    held = []
    for index in range(110):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(f"GET /lead/slow{index} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        held.append(sock)
    try:
        deadline = time.monotonic() + 20
        while len(upstream.lines) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the rest, if they can
        assert len(upstream.lines) >= 100
        started = time.monotonic()
        answer = requests.get(f"{proxy.base}/lead/ld_123", headers=AUTH, timeout=10)
        took = time.monotonic() - started
        assert answer.status_code == 200, answer.text
        assert took < 3, f"a normal request took {took:.1f} s behind the slow ones"
    finally:
        for sock in held:
            sock.close()


def test_cors_is_the_mocks_for_every_header_a_front_end_sends_and_reads(
    upstreams: Callable[[Callable[[str], bytes]], HostileUpstream], proxies: Callable[..., Proxy]
) -> None:
    upstream = upstreams(lambda path: b"{}")
    proxy = proxies(upstream.url())
    origin = {"Origin": "http://localhost:5173"}
    asked = "authorization, prefer, x-request-id, x-mock-delay, x-mock-fail"
    preflight = requests.options(
        f"{proxy.base}/lead/ld_123",
        headers={**origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": asked},
        timeout=10,
    )
    assert preflight.status_code == 204
    allowed = {name.strip().lower() for name in preflight.headers["Access-Control-Allow-Headers"].split(",")}
    assert set(asked.split(", ")) <= allowed
    read = requests.get(f"{proxy.base}/lead/ld_123", headers={**AUTH, **origin}, timeout=10)
    exposed = {name.strip().lower() for name in read.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"www-authenticate", "allow", "preference-applied", "x-contract-verdict"} <= exposed


def test_a_second_proxy_on_a_busy_port_leaves_the_first_alone(
    upstreams: Callable[[Callable[[str], bytes]], HostileUpstream], proxies: Callable[..., Proxy]
) -> None:
    upstream = upstreams(lambda path: b"{}")
    first = proxies(upstream.url())
    requests.get(f"{first.base}/lead/ld_123", headers=AUTH, timeout=10)
    assert len(first.entries()) == 1
    port = first.base.rsplit(":", 1)[1]
    second = subprocess.run(
        [*PROXY, "--port", port, "--proxy", upstream.url(), "--journal", str(first.journal)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert second.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in second.stderr
    assert "serving" not in second.stdout
    assert "Errno" not in second.stderr + second.stdout
    assert len(first.entries()) == 1  # the first proxy's journal is whole


def test_one_date_the_upstreams(
    upstreams: Callable[[Callable[[str], bytes]], HostileUpstream], proxies: Callable[..., Proxy]
) -> None:
    upstream = upstreams(lambda path: b"{}")
    proxy = proxies(upstream.url())
    head = _raw(int(proxy.base.rsplit(":", 1)[1]), "/lead/ld_123").split(b"\r\n\r\n", 1)[0].decode()
    dates = [line for line in head.split("\r\n") if line.lower().startswith("date:")]
    assert dates == [f"date: {UPSTREAM_DATE}"], head
    own = proxies(f"http://127.0.0.1:{free_port()}")  # nobody listens: the proxy's own 502 has one Date too
    head = _raw(int(own.base.rsplit(":", 1)[1]), "/lead/ld_123").split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.1 502 ")
    assert len([line for line in head.split("\r\n") if line.lower().startswith("date:")]) == 1, head


def test_the_mocks_preference_applied_is_not_drift(proxies: Callable[..., Proxy]) -> None:
    with serving(correct().app, threads=2) as base_url:
        proxy = proxies(base_url)
        for prefer in ("dynamic=true", "code=404", "code=200, example=ld_123"):
            answer = requests.get(f"{proxy.base}/lead/ld_123", headers={**AUTH, "Prefer": prefer}, timeout=10)
            assert "Preference-Applied" in answer.headers
            assert answer.headers[VERDICT] == "ok", (prefer, proxy.entries()[-1])
        unasked = requests.get(f"{proxy.base}/lead/ld_123", headers=AUTH, timeout=10)
        assert unasked.headers[VERDICT] == "ok"
