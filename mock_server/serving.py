"""The Flask (WSGI) app served over granian's RSGI interface, with request bodies read in a bounded way.

Why not granian's WSGI interface: there the one Python thread blocks in `wsgi.input.read()` while a
client trickles (or stops sending) its body, and every other client waits behind it (issue #10). granian
has no body-read timeout. Over RSGI the body is awaited on the event loop, with a deadline and a size
cap: a stalled client holds a coroutine, never the thread. Only once the whole body is in memory does the
app run, synchronously, on the same thread (so the app still runs one request at a time, as before).

- a body that does not arrive in full within the deadline: 408 problem, connection closed;
- a body over the size limit, announced (`Content-Length`) or streamed (chunked): 413 problem, closed;
- a malformed `Content-Length`: 400 problem, closed.

This layer also applies simulated latency (awaited here, so a slow answer delays no other client; see
`chaos.py`), cuts the connection for a simulated drop, and records every request (`journal.py`).
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from granian.constants import Interfaces, Loops
from granian.log import LogLevels
from granian.server import Server

from mock_server.chaos import DELAY_HEADER, DROP, FAIL_HEADER, FAIL_KEY
from mock_server.controls import NOTE_KEY, Controls
from mock_server.problems import PROBLEM_MEDIA_TYPE, ApiProblem, FieldError

log = logging.getLogger("mock_server")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _TooLarge(Exception):
    pass


def problem_response(problem: ApiProblem) -> tuple[int, list[tuple[str, str]], bytes]:
    """A problem answered below Flask; the connection is closed, since the body may be left unread."""
    headers = [("content-type", PROBLEM_MEDIA_TYPE), ("connection", "close"), *problem.headers.items()]
    return problem.status, headers, orjson.dumps(problem.to_dict())


class BoundedBodyRSGI:
    """An RSGI application that runs a WSGI app once the request body has arrived, within bounds."""

    def __init__(
        self, app: WSGIApp, *, max_body_bytes: int, body_timeout: float, controls: Controls | None = None
    ) -> None:
        self.app = app  # replaced by the reloader when openapi.yaml or the seed changes
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.controls = controls or Controls()
        self.on_start: list[Callable[[asyncio.AbstractEventLoop], None]] = []

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called by granian in the worker, with its event loop: starts the reload watcher."""
        for start in self.on_start:
            start(loop)

    async def __call__(self, scope: Any, protocol: Any) -> None:
        """The RSGI entry point (granian calls an RSGI application with its scope and protocol)."""
        if scope.proto != "http":  # websockets are switched off in the server; refuse anything else
            return
        started = time.perf_counter()
        path = scope.path
        extra: dict[str, Any] = {}
        try:
            body = await self._body(scope, protocol)
            simulated = scope.method != "OPTIONS" and not path.startswith(("/_mock/", "/docs"))
            if simulated and await self._simulate(scope, path, extra) == DROP:
                # The status line goes out, then the connection closes before the promised body.
                transport = protocol.response_stream(
                    200, [("content-type", "application/json"), ("content-length", "64")]
                )
                await transport.send_bytes(b'{"lead_id": ')
                self._record(scope, 200, started, b"", "simulated: connection dropped")
                return
        except ApiProblem as problem:
            status, headers, data = problem_response(problem)
            protocol.response_bytes(status, headers, data)
            self._record(scope, status, started, data, None)
            return
        environ = wsgi_environ(scope, body)
        environ.update(extra)
        status, headers, data = self._run(environ)
        protocol.response_bytes(status, headers, data)
        if not path.startswith("/docs"):
            self._record(scope, status, started, data, environ.get(NOTE_KEY))

    async def _simulate(self, scope: Any, path: str, extra: dict[str, Any]) -> Any:
        """Await the chosen latency; return the chosen failure (handed to the app, or DROP)."""
        chaos = self.controls.chaos
        delay_header = scope.headers.get(DELAY_HEADER)
        fail_header = scope.headers.get(FAIL_HEADER)
        if delay_header is None and fail_header is None and not chaos.active:
            return None
        try:
            operation = self.controls.route(scope.method, path) if chaos.operations else None
            delay, failure = chaos.decide(operation, delay_header, fail_header)
        except ApiProblem as problem:
            extra[FAIL_KEY] = problem  # the app answers it, with CORS headers
            return None
        if delay:
            await asyncio.sleep(delay)
        if failure is not None and failure != DROP:
            extra[FAIL_KEY] = failure
        return failure

    def _record(self, scope: Any, status: int, started: float, data: bytes, note: str | None) -> None:
        journal = self.controls.journal
        seconds = time.perf_counter() - started
        journal.record(
            scope.method,
            scope.path,
            scope.query_string,
            status,
            seconds,
            data,
            note,
            keep=not scope.path.startswith("/_mock/"),
        )

    async def _body(self, scope: Any, protocol: Any) -> bytes:
        length_header = scope.headers.get("content-length")
        if length_header is not None:
            if not length_header.strip().isdigit():
                detail = "Content-Length is not a number."
                errors = [FieldError("header", "Content-Length", detail)]
                raise ApiProblem(400, "validation-error", detail, errors=errors)
            length = int(length_header)
            if length > self.max_body_bytes:
                raise _too_large(self.max_body_bytes)
            if length == 0:
                return b""
        elif "chunked" not in scope.headers.get("transfer-encoding", "").lower():
            return b""
        try:
            async with asyncio.timeout(self.body_timeout):
                return await self._read(protocol)
        except TimeoutError:
            raise ApiProblem(
                408, "request-timeout", f"The request body did not arrive within {self.body_timeout:g} seconds."
            ) from None
        except _TooLarge:
            raise _too_large(self.max_body_bytes) from None

    async def _read(self, protocol: Any) -> bytes:
        chunks = bytearray()
        async for chunk in protocol:
            chunks += chunk
            if len(chunks) > self.max_body_bytes:
                raise _TooLarge
        return bytes(chunks)

    def _run(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            started[:] = [int(status.split(" ", 1)[0]), headers]

        result = self.app(environ, start_response)
        try:
            data = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        status, headers = started
        return status, headers, data


def _too_large(limit: int) -> ApiProblem:
    return ApiProblem(413, "payload-too-large", f"The request body is over the size limit of {limit} bytes.")


def wsgi_environ(scope: Any, body: bytes) -> dict[str, Any]:
    """PEP 3333 environ of an RSGI scope, the body already read (so it carries its real Content-Length)."""
    host, _, port = scope.server.rpartition(":")
    client_host, _, client_port = scope.client.rpartition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        # granian decodes the path as UTF-8; WSGI wants its bytes as latin-1 (Werkzeug decodes them again).
        "PATH_INFO": scope.path.encode("utf-8", "surrogateescape").decode("latin-1"),
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": client_host,
        "REMOTE_PORT": client_port,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    for name, value in scope.headers.items():
        if name in ("content-length", "transfer-encoding"):
            continue
        key = "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def rsgi_server(host: str, port: int) -> Any:  # granian's Server class is chosen at import: untyped here
    """granian serving this package's RSGI app: one worker (the state is in memory), no websockets."""
    return Server(
        target="mock_server",
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        workers=1,
        websockets=False,
        log_level=LogLevels.warning,
        # uvloop when installed (a dependency wherever it builds: not on Windows), else asyncio. With uvloop
        # GET /lead/ld_123 served 4,995 instead of 4,167 req/s (`python -m bench --only mock`, 2026-12-02).
        loop=Loops.auto,
    )
