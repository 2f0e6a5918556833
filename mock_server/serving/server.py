"""The Flask (WSGI) app served by granian, run only once its request body has arrived within bounds.

Why not a WSGI server: there the one Python thread blocks in `wsgi.input.read()` while a client trickles
(or stops sending) its body, and every other client waits behind it (issue #10). Here the body is awaited
on the event loop (`channel.py`: a deadline and a size cap): a stalled client holds a coroutine, never
the thread. Only once the whole body is in memory does the app run, synchronously, on the same thread (so
the app runs one request at a time). granian serves it through its public options only (`serve`); what
it refuses before the app sees it (malformed HTTP, a head over its size) is its own plain answer
(docs/mock-limits.md).

This layer also applies simulated latency (awaited here, so a slow answer delays no other client; see
`chaos.py`), cuts the connection for a simulated drop, and records every request (`journal.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server.embed import Server

from mock_server.api.problems import ApiProblem
from mock_server.limits import MockLimits
from mock_server.serving.channel import Channel, Handler, Receive, Request, Scope, Send, asgi_app, problem_response
from mock_server.tools.chaos import CHUNK, CONNECTION_FAULTS, DELAY_HEADER, DRIBBLE, DROP, EMPTY, FAIL_HEADER, FAIL_KEY
from mock_server.tools.controls import NOTE_KEY, Controls

log = logging.getLogger("mock_server")

DRIBBLE_PIECES = 10  # a dribbled body: ten pieces, 200 ms apart
DRIBBLE_PAUSE = 0.2
STOP_GRACE_SECONDS = 2.0  # what a request still running at Ctrl-C may take before it is cut short
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BoundedBodyApp:
    """Runs a WSGI app once the request body has arrived, within bounds."""

    def __init__(
        self, app: WSGIApp, *, max_body_bytes: int, body_timeout: float, controls: Controls | None = None
    ) -> None:
        self.app = app  # replaced by the reloader when openapi.yaml or the seed changes
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.controls = controls or Controls()

    async def answer(self, request: Request, channel: Channel) -> None:
        started = time.perf_counter()
        path = request.path
        extra: dict[str, Any] = {}
        try:
            body = await channel.body(request, max_bytes=self.max_body_bytes, timeout=self.body_timeout)
            simulated = request.method != "OPTIONS" and not path.startswith(("/_mock/", "/docs"))
            failure = await self._simulate(request, path, extra) if simulated else None
        except ApiProblem as problem:
            status, headers, data = problem_response(problem)
            await channel.respond(status, headers, data)
            self._record(request, status, started, data, None)
            return
        environ = wsgi_environ(request, body)
        environ.update(extra)
        status, headers, data = self._run(environ)
        if failure in CONNECTION_FAULTS:
            # The app's answer (its CORS headers included, so a browser sees a network error, not a CORS one).
            await self._fault(channel, str(failure), status, headers, data)
            self._record(request, status, started, b"", f"simulated: {failure}")
            return
        await channel.respond(status, headers, data)
        if not path.startswith("/docs"):
            self._record(request, status, started, data, environ.get(NOTE_KEY), body)

    @staticmethod
    async def _fault(channel: Channel, fault: str, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        if fault == DROP:  # the status line and half the promised body, then the connection closes
            await channel.cut_short(status, headers, data[: len(data) // 2])
        elif fault == EMPTY:  # the head, not a byte of the body (ASGI has no way to send nothing at all)
            await channel.cut_short(status, headers, b"")
        elif fault == CHUNK:  # no Content-Length: the body goes chunked, and breaks off in its first chunk
            unframed = [(name, value) for name, value in headers if name.lower() != "content-length"]
            await channel.cut_short(status, unframed, data[: len(data) // 2])
        else:
            await channel.dribble(status, headers, data, pieces=DRIBBLE_PIECES, pause=DRIBBLE_PAUSE)

    async def _simulate(self, request: Request, path: str, extra: dict[str, Any]) -> Any:
        """Await the chosen latency; return the chosen failure (handed to the app, or DROP)."""
        chaos = self.controls.chaos
        delay_header = request.headers.get(DELAY_HEADER)
        fail_header = request.headers.get(FAIL_HEADER)
        if delay_header is None and fail_header is None and not chaos.active:
            return None
        try:
            operation = self.controls.route(request.method, path) if chaos.operations else None
            delay, failure = chaos.decide(operation, delay_header, fail_header, path)
        except ApiProblem as problem:
            extra[FAIL_KEY] = problem  # the app answers it, with CORS headers
            return None
        if delay:
            await asyncio.sleep(delay)
        if failure is not None and failure != DRIBBLE:  # a dribbled answer is the real one
            extra[FAIL_KEY] = failure
        return failure

    def _record(
        self, request: Request, status: int, started: float, data: bytes, note: str | None, body: bytes = b""
    ) -> None:
        journal = self.controls.journal
        seconds = time.perf_counter() - started
        journal.record(
            request.method,
            request.path,
            request.query_string,
            status,
            seconds,
            data,
            note,
            keep=not request.path.startswith("/_mock/"),
            headers=request.headers.items(),
            request_body=body,
        )

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


def wsgi_environ(request: Request, body: bytes) -> dict[str, Any]:
    """PEP 3333 environ of a request, the body already read (so it carries its real Content-Length)."""
    host, _, port = request.server.rpartition(":")
    client_host, _, client_port = request.client.rpartition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        # The path is decoded as UTF-8; WSGI wants its bytes as latin-1 (Werkzeug decodes them again).
        "PATH_INFO": request.path.encode("utf-8", "surrogateescape").decode("latin-1"),
        "QUERY_STRING": request.query_string,
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": f"HTTP/{request.http_version}",
        "REMOTE_ADDR": client_host,
        "REMOTE_PORT": client_port,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    for name, value in request.headers.items():
        if name in ("content-length", "transfer-encoding"):
            continue
        key = "CONTENT_TYPE" if name == "content-type" else "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def serve(
    handler: Handler,
    host: str,
    port: int,
    limits: MockLimits,
    on_start: Iterable[Callable[..., None]] = (),
) -> None:
    """Serve until SIGINT or SIGTERM: granian's embeddable server in this process's event loop (the state
    is in memory: one process), through its documented options only (docs/measurements.md, Why granian).
    hyper answers what is not HTTP/1.1 with its own empty 400, a head over `max_head_bytes` with an
    empty 431, and closes a head not read within the body timeout; at most `max_connections` are served
    at once (the next wait in the kernel's backlog)."""
    running: set[asyncio.Task[Any]] = set()
    app = asgi_app(handler, limits)

    async def tracked(scope: Scope, receive: Receive, send: Send) -> None:
        task = asyncio.current_task()
        assert task is not None  # granian runs each request as a task of this loop
        running.add(task)
        try:
            await app(scope, receive, send)
        finally:
            running.discard(task)

    server = Server(
        tracked,
        address=host,
        port=port,
        interface=Interfaces.ASGINL,  # no lifespan: the app is ready before the server starts
        http=HTTPModes.http1,
        websockets=False,
        backpressure=limits.max_connections,
        http1_settings=HTTP1Settings(
            header_read_timeout=int(limits.request_body_timeout * 1000), max_buffer_size=limits.max_head_bytes
        ),
        log_level=LogLevels.error,  # the journal says what happened
        log_access=False,
    )

    async def run() -> None:
        loop = asyncio.get_running_loop()
        serving = asyncio.ensure_future(server.serve())

        def stop() -> None:
            """granian waits for the requests in flight (a stalled body, a 60 s X-Mock-Delay) and for answers
            a client does not read: after the grace the requests are cancelled (a 503 problem if they had
            not begun, `channel.asgi_app`), and after another the server is, with what it still holds."""
            server.stop()  # type: ignore[no-untyped-call]
            loop.call_later(STOP_GRACE_SECONDS, lambda: [task.cancel() for task in list(running)])
            loop.call_later(2 * STOP_GRACE_SECONDS, serving.cancel)

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop)
        for start in on_start:
            start(loop)
        with contextlib.suppress(asyncio.CancelledError):
            await serving

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(run())


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed (a dependency wherever it builds: not on Windows), else asyncio's loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows
        return None
    return uvloop.new_event_loop
