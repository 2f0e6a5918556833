"""What real deployments and broken ones do, in front of the correct mock: a WSGI middleware per fault.

Served with waitress in a thread, it is the target of `leadvibe-contracts` runs in tests/live: latency,
transient 503/429 with Retry-After, replicas that lag behind writes, an edge that answers some methods
with HTML, a by-alias that lies, an ingest that drops events, a server that echoes credentials. It
records every request it receives (method, path, time), so a test can count what the gate sent.
"""

from __future__ import annotations

import io
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.gate.variants import Variant, Wsgi, correct
from tests.running import serving

StartResponse = Callable[..., Any]


@dataclass
class Faults:
    latency: float = 0.0
    transient_rate: float = 0.0  # share of requests answered 503 or 429 with Retry-After
    always_unavailable_after: int | None = None  # every request after the first N answers 503
    lag: float = 0.0  # how long GET /lead/{id} keeps showing the lead as it was before a write
    html_edge_methods: frozenset[str] = frozenset()  # answered by "the edge": 405 with an HTML body
    lying_by_alias: bool = False  # by-alias answers ld_123 for any alias the mock does not know
    # by-alias answers this lead (another tool's) for every alias that starts with the prefix: (prefix, lead)
    by_alias_names: tuple[str, str] | None = None
    drop_ingest: bool = False  # 202, and nothing stored
    async_ingest: float = 0.0  # an ingest by alias: 202 at once, applied this many seconds later (a queue)
    echo_credentials: bool = False  # an authorized GET /org-units: 500 with the Authorization header in the body
    seed: int = 7


@dataclass
class Recorded:
    method: str
    path: str
    at: float


@dataclass
class FaultyTarget:
    variant: Variant
    faults: Faults
    requests: list[Recorded] = field(default_factory=list)
    in_flight: int = 0  # requests inside the latency at this moment, and the most ever at once
    most_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stale: dict[str, tuple[float, bytes]] = field(default_factory=dict)
    base_url: str = ""  # where `serve` serves it

    def __post_init__(self) -> None:
        self._random = random.Random(self.faults.seed)
        self._throwaway = correct().app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        with self._lock:
            self.requests.append(Recorded(method, path, time.monotonic()))
            count = len(self.requests)
            transient = self._random.random() < self.faults.transient_rate
        faults = self.faults
        if faults.latency:
            with self._lock:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            time.sleep(faults.latency)
            with self._lock:
                self.in_flight -= 1
        if faults.always_unavailable_after is not None and count > faults.always_unavailable_after:
            return _answer(start_response, "503 Service Unavailable", b"", [("Retry-After", "0")])
        if transient:
            status = self._random.choice(["503 Service Unavailable", "429 Too Many Requests"])
            return _answer(start_response, status, b"", [("Retry-After", "0")])
        if method in faults.html_edge_methods:
            return _answer(start_response, "405 Not Allowed", b"<html><body>405</body></html>", [], "text/html")
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if (
            faults.echo_credentials
            and method == "GET"
            and path == "/org-units"
            and authorization.startswith(("Bearer kbn", "Basic "))
        ):
            echo = json.dumps({"error": "boom", "received": authorization}).encode()
            return _answer(start_response, "500 Internal Server Error", echo, [])
        if faults.async_ingest and method == "POST" and path == "/ingest":
            return self._queued_ingest(environ, start_response)
        if faults.drop_ingest and method == "POST" and path == "/ingest":
            # Judged like the real one (auth, validation) by a throwaway mock, then dropped: 202, nothing stored.
            status, headers, body = _call_with_headers(self._throwaway, environ)
            if status.startswith("202"):
                body = b'{"message":"Event accepted","event_id":"evt_dropped"}'
            kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type")]
            return _answer(start_response, status, body, kept, _media_type(body))
        if faults.lying_by_alias and method == "GET" and path == "/lead/by-alias":
            return self._lying_by_alias(environ, start_response)
        if faults.by_alias_names and method == "GET" and path == "/lead/by-alias":
            prefix, lead_id = faults.by_alias_names
            if f"value={prefix}" in environ.get("QUERY_STRING", ""):
                lie = {"lead_id": lead_id, "email": "x@contracts.invalid", "metadata": {}}
                return _answer(start_response, "200 OK", json.dumps(lie).encode(), [])
        if faults.lag and path.startswith("/lead/") and path.count("/") == 2:
            return self._lagging(environ, start_response, method, path)
        return self.variant.app(environ, start_response)

    def _queued_ingest(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """An event that creates or finds a lead by alias is queued: judged as the real ingest would judge
        it (auth, validation), answered 202 at once, applied later. By-id events go straight through."""
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ = {**environ, "wsgi.input": io.BytesIO(body)}
        if b'"lead_id"' in body:
            return self.variant.app(environ, start_response)
        status, headers, answer = _call_with_headers(self._throwaway, {**environ, "wsgi.input": io.BytesIO(body)})
        if status.startswith("202"):
            later = {**environ, "wsgi.input": io.BytesIO(body)}
            timer = threading.Timer(self.faults.async_ingest, _call, args=(self.variant.app, later))
            timer.daemon = True
            timer.start()
            answer = b'{"message":"Event accepted","event_id":"evt_queued"}'
        kept = [(k, v) for k, v in headers if k.lower() not in ("content-length", "content-type")]
        return _answer(start_response, status, answer, kept, _media_type(answer))

    def _lying_by_alias(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        status, body = _call(self.variant.app, environ)
        if status.startswith("404"):
            lie = {"lead_id": "ld_123", "email": "alex@example.com", "metadata": {}}
            return _answer(start_response, "200 OK", json.dumps(lie).encode(), [])
        return _answer(start_response, status, body, [])

    def _lagging(
        self, environ: dict[str, Any], start_response: StartResponse, method: str, path: str
    ) -> Iterable[bytes]:
        if method == "GET":
            with self._lock:
                stale = self._stale.get(path)
            if stale is not None and time.monotonic() < stale[0]:
                return _answer(start_response, "200 OK", stale[1], [])
            return self.variant.app(environ, start_response)
        before_status, before = _call(self.variant.app, {**environ, "REQUEST_METHOD": "GET", "CONTENT_LENGTH": "0"})
        status, body = _call(self.variant.app, environ)
        if before_status.startswith("200") and status.startswith("200"):
            with self._lock:
                self._stale[path] = (time.monotonic() + self.faults.lag, before)
        return _answer(start_response, status, body, [])


def _call(app: Wsgi, environ: dict[str, Any]) -> tuple[str, bytes]:
    status, _, body = _call_with_headers(app, environ)
    return status, body


def _call_with_headers(app: Wsgi, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    captured: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        captured.update(status=status, headers=headers)
        return lambda data: None

    body = b"".join(app(environ, start))
    return captured["status"], captured["headers"], body


def _media_type(body: bytes) -> str:
    return "application/problem+json" if b'"type"' in body and b'"status"' in body else "application/json"


def _answer(
    start_response: StartResponse,
    status: str,
    body: bytes,
    headers: list[tuple[str, str]],
    media_type: str = "application/json",
) -> Iterable[bytes]:
    start_response(status, [("Content-Type", media_type), ("Content-Length", str(len(body))), *headers])
    return [body]


@contextmanager
def serve(faults: Faults) -> Iterator[tuple[str, FaultyTarget]]:
    """The correct mock behind `faults`, on a free port of 127.0.0.1: (base URL, the target)."""
    target = FaultyTarget(correct(), faults)
    with serving(target, threads=8) as target.base_url:
        yield target.base_url, target
