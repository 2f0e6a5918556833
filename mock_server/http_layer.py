"""The HTTP/1.1 connection: uvicorn's httptools protocol, with its own refusals as problem documents.

Why this layer is ours (issue #10): every response the mock sends is a problem document or the spec's
body, including what the HTTP layer refuses before any app runs. uvicorn (with httptools, the llhttp
parser) does the HTTP work: keep-alive, pipelining, flow control, `Expect: 100-continue`, chunked bodies.
This subclass adds what it leaves open, each limit stated once in openapi.yaml (`info`):

- a request target (path and query) over `max_request_target_bytes` (mock_server.limits): 414 `/problems/uri-too-long`;
- more than `max_header_fields` header fields, or over `max_header_bytes` of them: 431
  `/problems/headers-too-large` (httptools itself bounds neither, so bytes are counted as they arrive);
- a head (request line and headers) that does not arrive within the body timeout of its first byte: 408
  `/problems/request-timeout` (a slow client holds a socket, never the thread, but not for ever);
- bytes that are not HTTP/1.0 or 1.1, an HTTP/1.1 request without exactly one `Host`, or a request to
  switch protocols (`Upgrade`, `CONNECT`: httptools stops parsing after one, so the bytes that follow,
  a body or a pipelined request, were lost or, worse, read as a request of their own): 400
  `/problems/malformed-request`, instead of uvicorn's plain text.

Time is bounded on the way out too: a connection whose client takes nothing of its answer for the same
timeout is reset, and one that sends only blank lines between requests is closed when idle as any other.

Each of these closes the connection, since what follows on it cannot be trusted; answers owed to requests
pipelined before the refused one are sent first, in order. The close lingers: the
answer is followed by a FIN, and what the client still sends is read and dropped for up to
`LINGER_SECONDS`, so that the client reads the answer instead of a reset (as nginx's `lingering_close`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct

try:  # POSIX: the kernel's send queue, to tell a slow reader from a stalled one
    import fcntl
    import termios
except ImportError:  # pragma: no cover - Windows
    fcntl = termios = None  # type: ignore[assignment]
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import httptools
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from mock_server.limits import LIMITS
from mock_server.problems import PROBLEM_MEDIA_TYPE, ApiProblem

LINGER_SECONDS = 2.0
MAX_LOGGED_TARGET = 200  # of a refused request's target, in the journal
_SIOCOUTQ: int | None = getattr(termios, "TIOCOUTQ", None) if termios is not None else None
# Requests of one connection that may wait for their answers (pipelined) before it is read no further,
# and how much is parsed at a time: together they bound the memory one connection can make the mock hold.
PIPELINE_DEPTH = 64
FEED_SLICE = 4096
# What the request line adds to its target ("PATCH " ... " HTTP/1.1\r\n"), allowed on top of the limits.
_REQUEST_LINE_SLACK = 64


@dataclass(frozen=True)
class HeadLimits:
    """How large a request's head may be, and how long it may take to arrive."""

    max_target_bytes: int
    max_header_fields: int
    max_header_bytes: int
    timeout: float

    @classmethod
    def of(cls, timeout: float | None = None) -> HeadLimits:
        """The mock's own limits (mock_server.limits), with the body timeout of the command line."""
        return cls(
            max_target_bytes=LIMITS.max_request_target_bytes,
            max_header_fields=LIMITS.max_header_fields,
            max_header_bytes=LIMITS.max_header_bytes,
            timeout=timeout if timeout is not None else LIMITS.request_body_timeout,
        )

    @property
    def max_head_bytes(self) -> int:
        return self.max_target_bytes + self.max_header_bytes + _REQUEST_LINE_SLACK


def _kernel_queue(transport: asyncio.BaseTransport) -> int:
    """Bytes in the socket's send queue not yet acknowledged (Linux's SIOCOUTQ); 0 where unknown."""
    sock = transport.get_extra_info("socket")
    if sock is None or _SIOCOUTQ is None:
        return 0
    try:
        queued: int = struct.unpack("i", fcntl.ioctl(sock.fileno(), _SIOCOUTQ, b"\0\0\0\0"))[0]
    except OSError:
        return 0
    return queued


RefusalHook = Callable[[str, str, int, bytes], None]


class _CountingTransport:
    """The transport, counting the bytes written to it: how a slow reader is told from one that reads
    nothing (uvloop's buffer size alone cannot tell, since every new answer adds to it)."""

    __slots__ = ("_transport", "written")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self.written = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _Refused(Exception):
    """Raised in a parser callback: httptools stops parsing, and the problem set beside it is sent."""


def malformed() -> ApiProblem:
    return ApiProblem(400, "malformed-request", "The request is not a valid HTTP/1.1 request.")


class ProblemHttpProtocol(HttpToolsProtocol):
    """One client connection. `limits` is set on a subclass made by `with_limits`."""

    limits: ClassVar[HeadLimits]
    refusal_hooks: ClassVar[tuple[RefusalHook, ...]] = ()

    @classmethod
    def with_limits(cls, limits: HeadLimits, on_refusal: RefusalHook | None = None) -> type[ProblemHttpProtocol]:
        """`on_refusal(method, target, status, body)` hears of every refusal sent (the mock's journal)."""
        hooks = (on_refusal,) if on_refusal is not None else ()
        return type(cls.__name__, (cls,), {"limits": limits, "refusal_hooks": hooks})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refusal: ApiProblem | None = None
        self._head_left: int | None = None  # bytes the head may still take; None between heads
        self._head_began_here = False  # the head began in the read being fed (its share of it is unknown)
        self._hosts = 0
        self._messages = 0
        self._idle_deadline = 0.0
        self._write_deadline: asyncio.TimerHandle | None = None
        self._running: RequestResponseCycle | None = None  # the request being answered
        self._unfed = bytearray()  # read, not yet parsed: requests wait for the queue to shorten
        self._header_fields = 0
        self._header_bytes = 0
        self._head_deadline: asyncio.TimerHandle | None = None
        self._closing = False  # a refusal was sent: what still arrives is dropped
        self._deferred: ApiProblem | None = None  # a refusal that waits for the answers owed before it

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._counting = _CountingTransport(transport)
        super().connection_made(cast(asyncio.Transport, self._counting))
        # A connection that never sends a byte is closed like an idle keep-alive one (uvicorn arms that
        # timer only after a response).
        self._arm_idle()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._writable()
        super().connection_lost(exc)
        # uvicorn marks only the newest parsed request as disconnected; with pipelining the one being
        # answered is an older one, which would then write to a closed transport (a traceback per request).
        running = self._running
        if running is not None and not running.response_complete:
            running.disconnected = True
            running.message_event.set()

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        self._running = cycle
        super()._start_asgi_task(cycle, app)

    def pause_writing(self) -> None:
        """The client reads slower than the mock writes. It is cut off only when it takes nothing of its
        answer for a whole timeout: a slow reader that makes progress is served to the end."""
        super().pause_writing()
        if self._write_deadline is None:
            self._watch_progress()

    def _sent(self) -> int:
        """Bytes the client has taken: written, less what waits in uvloop's buffer and in the kernel's
        send queue (which on loopback holds megabytes, so that only it shows a slow reader's progress)."""
        return self._counting.written - self.transport.get_write_buffer_size() - _kernel_queue(self.transport)

    def _watch_progress(self) -> None:
        self._write_deadline = self.loop.call_later(self.limits.timeout, self._check_progress, self._sent())

    def _check_progress(self, sent_before: int) -> None:
        if self.transport.get_write_buffer_size() and self._sent() <= sent_before:
            self._cut_off()
        else:
            self._watch_progress()

    def resume_writing(self) -> None:
        self._writable()
        super().resume_writing()

    def _cut_off(self) -> None:
        """Abort with a reset (SO_LINGER 0): a plain close would leave the unsent answer to the kernel,
        which keeps trying to deliver it (an orphaned socket holding up to megabytes)."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def _writable(self) -> None:
        if self._write_deadline is not None:
            self._write_deadline.cancel()
            self._write_deadline = None

    def _refused(self) -> bool:
        """A refusal was sent (or waits for earlier answers): nothing more is read on this connection."""
        return self._closing

    def _arm_idle(self) -> None:
        self._idle_deadline = self.loop.time() + self.timeout_keep_alive
        self.timeout_keep_alive_task = self.loop.call_at(self._idle_deadline, self.timeout_keep_alive_handler)

    def data_received(self, data: bytes) -> None:
        """Feed the parser a slice at a time; while `PIPELINE_DEPTH` requests wait for their answers, keep
        the rest unparsed and stop reading (uvicorn resumes reading after every answer, so a client that
        pipelines without reading its answers grew the queue without bound: 1.5 GB in 17 s)."""
        if self._closing:
            return
        if self._unfed:
            self._unfed += data
            self.flow.pause_reading()
            return
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        for start in range(0, len(data), FEED_SLICE):
            if self._refused():
                return
            if len(self.pipeline) >= PIPELINE_DEPTH:
                self._unfed = bytearray(data[start:])
                self.flow.pause_reading()
                return
            self._feed_slice(data[start : start + FEED_SLICE])

    def _feed_slice(self, data: bytes) -> None:
        """Feed the parser, never more than the head may take while a head is being read."""
        idle = self.timeout_keep_alive_task is not None
        messages = self._messages
        left = self._head_left
        self._head_began_here = False
        if left is not None and len(data) > left:
            super().data_received(data[:left])
            if self._refused():
                return
            if self._head_left is not None and self._messages == messages:  # the same head, unfinished
                self._refuse(_headers_too_large(self.limits))
                return
            data = data[left:]  # the head ended: what follows is fed whole (a new head is bounded by it)
        super().data_received(data)
        if self._head_left is not None and not self._head_began_here:
            self._head_left = max(0, self._head_left - len(data))
        if idle and not self._refused() and self._messages == messages and self._head_left is None and not self._busy():
            # Only blank lines (allowed between requests): the idle deadline stands.
            self.timeout_keep_alive_task = self.loop.call_at(self._idle_deadline, self.timeout_keep_alive_handler)

    # Parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        # How an app cuts a connection short (a simulated drop, `channel.Channel.cut_short`).
        self.scope["extensions"] = {"leadvibe.close": self.transport.close}  # type: ignore[dict-item]
        self._head_left = self.limits.max_head_bytes
        self._head_began_here = True  # bounded by the read's size; from the next read on, bytes count
        self._messages += 1
        self._hosts = 0
        self._header_fields = 0
        self._header_bytes = 0
        self._disarm()
        self._head_deadline = self.loop.call_later(self.limits.timeout, self._head_too_slow)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_target_bytes:
            limit = self.limits.max_target_bytes
            self._stop(ApiProblem(414, "uri-too-long", f"The request target is over {limit} bytes."))

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_fields += 1
        self._header_bytes += len(name) + len(value) + 4  # ": " and CRLF
        if self._header_fields > self.limits.max_header_fields or self._header_bytes > self.limits.max_header_bytes:
            self._stop(_headers_too_large(self.limits))
        if name.lower() == b"host":
            self._hosts += 1
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_left = None
        self._disarm()
        version = self.parser.get_http_version()
        if version not in ("1.0", "1.1"):
            self._stop(ApiProblem(400, "malformed-request", f"HTTP/{version} is not spoken here; send HTTP/1.1."))
        if self._hosts != 1 and version == "1.1":
            self._stop(ApiProblem(400, "malformed-request", "An HTTP/1.1 request carries exactly one Host header."))
        if self.parser.should_upgrade():  # Upgrade or CONNECT: httptools would stop parsing the bytes after it
            detail = "The mock speaks HTTP/1.1 only: no Upgrade and no CONNECT."
            self._stop(ApiProblem(400, "malformed-request", detail))
        super().on_headers_complete()

    # Refusals
    def send_400_response(self, msg: str) -> None:
        """uvicorn calls this for whatever httptools cannot parse, or a callback stopped."""
        self._send_problem(self._refusal or malformed())

    def _stop(self, problem: ApiProblem) -> None:
        self._refusal = problem
        raise _Refused(problem.detail)

    def _refuse(self, problem: ApiProblem) -> None:
        self._refusal = problem
        self._send_problem(problem)

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self._closing and not self.transport.is_closing():
            detail = f"The request head did not arrive within {self.limits.timeout:g} seconds."
            self._refuse(ApiProblem(408, "request-timeout", detail))

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:
            self._idle_deadline = self.loop.time() + self.timeout_keep_alive
        if self._unfed and len(self.pipeline) < PIPELINE_DEPTH and not self.transport.is_closing():
            unfed, self._unfed = bytes(self._unfed), bytearray()
            self._feed(unfed)
        if self._unfed:
            self.flow.pause_reading()
        if self._deferred is not None and not self._busy():
            problem, self._deferred = self._deferred, None
            self._send_problem(problem)

    def _drop_unfinished_body(self) -> None:
        """When the refused bytes are the body of the newest request (a broken chunk), that request will
        never be whole: the problem is its answer. It is dropped from the queue, or, when it is the one
        being answered, its body read ends as if the client had gone (`channel.py`: never applied)."""
        cycle = self.cycle
        if cycle is None or not cycle.more_body or cycle.response_started:
            return
        queued = len(self.pipeline)
        self.pipeline = deque(item for item in self.pipeline if item[0] is not cycle)
        if len(self.pipeline) == queued:  # it is being answered
            cycle.disconnected = True
            cycle.message_event.set()

    def _busy(self) -> bool:
        """Answers still owed to earlier requests of this connection (pipelined), which go first."""
        running = self._running
        return bool(self.pipeline) or (
            running is not None and not running.response_complete and not running.disconnected
        )

    def _send_problem(self, problem: ApiProblem) -> None:
        self._disarm()
        self._closing = True
        if self.transport.is_closing():  # an earlier answer closed it (`Connection: close`)
            return
        self._drop_unfinished_body()
        if self._busy():
            self._deferred = problem
            return
        body = orjson.dumps(problem.to_dict())
        head = [
            STATUS_LINE[problem.status],
            b"content-type: " + PROBLEM_MEDIA_TYPE.encode() + b"\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n",
        ]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        self.transport.write(b"".join([*head, b"\r\n", body]))
        for hook in self.refusal_hooks:
            method = self._method()
            target = self.url[:MAX_LOGGED_TARGET].decode("latin-1") if self._messages else ""
            hook(method, target, problem.status, body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _method(self) -> str:
        """The refused request's method, once its target began ("-" before: llhttp then reports DELETE)."""
        try:
            return self.parser.get_method().decode("latin-1") if self._messages and self.url else "-"
        except (AttributeError, httptools.HttpParserError):
            return "-"

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None


def _headers_too_large(limits: HeadLimits) -> ApiProblem:
    return ApiProblem(
        431,
        "headers-too-large",
        f"The request has over {limits.max_header_fields} header fields or {limits.max_header_bytes} bytes of them.",
    )
