"""The validating proxy (`leadvibe-mock --proxy`, issue #12) as a real process in front of real upstreams:
the correct mock (no violations, nothing changed), broken variants of it (violations named), a drifting
one, a silent and an absent upstream (504 and 502 problems, never a hang), CORS and the summary at exit.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.gate.variants import VARIANTS, Variant, correct, rewrite_leads
from tests.running import Proxy, free_port, serving

pytestmark = pytest.mark.slow  # servers, processes or a browser: make test, not make test-fast

TOKEN = "kbn_pat_demo"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
VERDICT = "X-Contract-Verdict"


@pytest.fixture
def serve() -> Iterator[Callable[[Variant], str]]:
    """Serves a variant of the mock with waitress in a thread; its base URL."""
    with ExitStack() as servers:
        yield lambda variant: servers.enter_context(serving(variant.app))


def test_in_front_of_the_mock_everything_passes_unchanged_and_ok(
    serve: Callable[[Variant], str], proxies: Callable[..., Proxy]
) -> None:
    upstream = serve(correct())
    proxy = proxies(upstream)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/lead/ld_123", {}),
        ("GET", "/leads?limit=5&min_score=10", {}),
        ("PUT", "/lead/ld_124", {"json": {"owner_name": "Ada"}}),
        ("PATCH", "/lead/ld_124/metadata", {"json": {"title": "CMO"}}),
        ("GET", "/org-units", {"headers": {**AUTH, "Cookie": "activeOu=unit_emea"}}),
        ("GET", "/lead/ld_404", {}),
        ("GET", "/lead/ld_123", {"headers": {"Authorization": "Bearer kbn_pat_nobody"}}),
    ]
    for method, path, options in calls:
        options.setdefault("headers", AUTH)
        direct = requests.request(method, upstream + path, timeout=10, **options)
        through = requests.request(method, proxy.base + path, timeout=10, **options)
        assert through.headers[VERDICT] == "ok", (path, through.status_code, through.text)
        assert (through.status_code, through.content) == (direct.status_code, direct.content), path
        for name in ("content-type", "www-authenticate", "set-cookie"):
            assert through.headers.get(name) == direct.headers.get(name), (path, name)
    output = proxy.stop()
    assert "7 exchange(s): 7 ok" in output, output
    assert TOKEN not in output
    assert "kbn_pat" not in proxy.journal.read_text(encoding="utf-8")


def test_credentials_and_cookies_reach_the_upstream_unchanged_and_nothing_else_is_added(
    proxies: Callable[..., Proxy], tmp_path: Path
) -> None:
    seen: list[dict[str, str]] = []

    def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        seen.append({k: v for k, v in environ.items() if k.startswith("HTTP_")})
        start_response("404 Not Found", [("Content-Type", "application/problem+json")])
        return [b'{"type": "/problems/not-found", "title": "Not Found", "status": 404, "detail": "x"}']

    with serving(echo, threads=1) as base_url:
        proxy = proxies(base_url)
        headers = {"Authorization": "Basic bHZfY2lfZGVtbzpsdl9jc19kZW1v", "Cookie": "activeOu=unit_emea; sid=s3cr3t"}
        answer = requests.get(f"{proxy.base}/lead/ld_9", headers=headers, timeout=10)
        assert answer.status_code == 404
        assert seen[0]["HTTP_AUTHORIZATION"] == headers["Authorization"]
        assert seen[0]["HTTP_COOKIE"] == headers["Cookie"]
        assert "HTTP_X_FORWARDED_FOR" not in seen[0]
        assert seen[0].get("HTTP_USER_AGENT", "").startswith("python-requests")  # the client's, not httpx's
        output = proxy.stop()
        assert "s3cr3t" not in output
        assert "bHZf" not in output
        assert "s3cr3t" not in proxy.journal.read_text(encoding="utf-8")


def test_a_request_the_api_does_not_accept_is_forwarded_and_named(
    serve: Callable[[Variant], str], proxies: Callable[..., Proxy]
) -> None:
    proxy = proxies(serve(correct()))
    too_few = requests.get(f"{proxy.base}/leads?limit=0", headers=AUTH, timeout=10)
    assert too_few.status_code == 400  # the upstream's own answer
    assert too_few.headers[VERDICT] == "request-violation"
    unknown = requests.put(f"{proxy.base}/lead/ld_123", headers=AUTH, json={"owner_name": 3}, timeout=10)
    assert unknown.headers[VERDICT] == "request-violation"
    nowhere = requests.get(f"{proxy.base}/lead/ld_123/nothing", headers=AUTH, timeout=10)
    assert nowhere.headers[VERDICT] == "request-violation"
    details = [f["detail"] for entry in proxy.entries() for f in entry["findings"]]
    assert "query limit: 0 is less than the minimum of 1" in details
    assert any("body /owner_name" in detail for detail in details), details
    assert any("no operation of the spec at GET /lead/ld_123/nothing" in detail for detail in details)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        ("missing_field", "200 (whole body): does not satisfy 'required'"),
        ("wrong_type", "200 /score: does not satisfy 'type'"),
    ],
)
def test_a_broken_upstream_is_a_response_violation_named_in_the_journal(
    serve: Callable[[Variant], str], proxies: Callable[..., Proxy], variant: str, expected: str
) -> None:
    proxy = proxies(serve(VARIANTS[variant]()))
    answer = requests.get(f"{proxy.base}/lead/ld_123", headers=AUTH, timeout=10)
    assert answer.status_code == 200
    assert answer.headers[VERDICT] == "response-violation"
    [entry] = proxy.entries()
    assert entry["operation"] == "getLead"
    assert {"verdict": "response-violation", "detail": expected} in entry["findings"], entry
    output = proxy.stop()
    assert f"response-violation getLead: {expected} (x1)" in " ".join(output.split()), output


def test_drift_is_named_and_the_answer_passes_unchanged(
    serve: Callable[[Variant], str], proxies: Callable[..., Proxy]
) -> None:
    variant = correct()
    drifting = rewrite_leads(variant.app, lambda lead: lead.update(level="hot"))

    def with_header(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, ("X-Debug-Node", "a7")])

        return drifting(environ, start)

    upstream = serve(Variant(with_header, variant.store))
    proxy = proxies(upstream)
    through = requests.get(f"{proxy.base}/lead/ld_123", headers=AUTH, timeout=10)
    assert through.headers[VERDICT] == "drift"
    assert through.json()["level"] == "hot"
    assert through.headers["X-Debug-Node"] == "a7"
    findings = {f["detail"] for f in proxy.entries()[0]["findings"]}
    assert findings == {"undeclared field /level in a 200", "undeclared header x-debug-node on a 200"}


def test_a_silent_upstream_is_a_504_problem_within_the_timeout(proxies: Callable[..., Proxy]) -> None:
    with socket.socket() as silent:  # listens, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        proxy = proxies(f"http://127.0.0.1:{silent.getsockname()[1]}", "--upstream-timeout", "1")
        started = time.monotonic()
        answer = requests.get(f"{proxy.base}/lead/ld_123", headers=AUTH, timeout=15)
        assert time.monotonic() - started < 5
    assert answer.status_code == 504
    assert answer.headers["Content-Type"] == "application/problem+json"
    assert answer.json()["type"] == "/problems/upstream-timeout"
    assert answer.headers[VERDICT] == "upstream-error"


def test_an_absent_upstream_is_a_502_problem(proxies: Callable[..., Proxy]) -> None:
    proxy = proxies(f"http://127.0.0.1:{free_port()}")
    answer = requests.get(f"{proxy.base}/lead/ld_123", headers=AUTH, timeout=15)
    assert answer.status_code == 502
    assert answer.json()["status"] == 502
    assert answer.headers[VERDICT] == "upstream-error"
    assert "upstream-error" in proxy.stop()


def test_cors_is_the_mocks(serve: Callable[[Variant], str], proxies: Callable[..., Proxy]) -> None:
    proxy = proxies(serve(correct()))
    origin = {"Origin": "http://localhost:5173"}
    preflight = requests.options(
        f"{proxy.base}/lead/ld_123",
        headers={**origin, "Access-Control-Request-Method": "PUT", "Access-Control-Request-Headers": "authorization"},
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "PUT" in preflight.headers["Access-Control-Allow-Methods"]
    read = requests.get(f"{proxy.base}/lead/ld_123", headers={**AUTH, **origin}, timeout=10)
    assert read.headers["Access-Control-Allow-Credentials"] == "true"
    assert VERDICT in read.headers["Access-Control-Expose-Headers"]
    foreign = requests.get(f"{proxy.base}/lead/ld_123", headers={**AUTH, "Origin": "https://evil.example"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in foreign.headers


def test_hostile_header_bytes_pass_and_the_proxy_serves_on(
    serve: Callable[[Variant], str], proxies: Callable[..., Proxy]
) -> None:
    """Prism 5.16 crashed on an invalid character in a header; here such bytes pass through unharmed."""
    proxy = proxies(serve(correct()))
    port = int(proxy.base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"GET /lead/ld_123 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer kbn_pat_demo\r\n"
            b"X-Odd: caf\xe9 \xff\r\nConnection: close\r\n\r\n"
        )
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 ")
    assert requests.get(f"{proxy.base}/lead/ld_123", headers=AUTH, timeout=10).headers[VERDICT] == "ok"


def test_an_upstream_with_credentials_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mock_server", "--proxy", "https://user:pw@staging.example.com"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "must not carry credentials" in done.stderr
