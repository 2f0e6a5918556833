"""One request as the mock and the proxy see it: the request, its body read within bounds, one answer.

Both apps are ASGI applications (served by granian, `serving.serve`); this module keeps ASGI's message
passing out of them. A body is read only up to the size limit and within the body timeout, so a stalled
or endless body costs a coroutine and a bounded buffer, never the thread:

- a request target or headers over their limits (within the head granian accepts): 414 or 431 problem;
- a body that does not arrive in full within the deadline: 408 problem, connection closed;
- a body over the size limit, announced (`Content-Length`) or streamed (chunked): 413 problem, closed;
- a body that would take the bytes held for all requests at once past their cap: 503 problem with
  Retry-After, closed (the cap bounds memory in total, not only per request);
- a malformed `Content-Length`: 400 problem, closed;
- a connection that closes before its body is complete: the request is dropped, never applied in part.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, MutableMapping, Sequence
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

import orjson

from mock_server.api.problems import PROBLEM_MEDIA_TYPE, ApiProblem, FieldError
from mock_server.limits import MockLimits

log = logging.getLogger("mock_server")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
HeaderList = Sequence[tuple[str, str]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Headers:
    """The request's headers, names in lower case; `get` gives the first value of a name."""

    __slots__ = ("_first", "_pairs")

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self._pairs = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw]
        self._first: dict[str, str] = {}
        for name, value in self._pairs:
            self._first.setdefault(name, value)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._first.get(name, default)

    def items(self) -> Iterator[tuple[str, str]]:
        return iter(self._pairs)


class Request:
    """The request line and headers. `path` is percent-decoded (UTF-8, undecodable bytes kept as
    surrogate escapes), `raw_path` and `query_string` as sent; `server` and `client` are "host:port"."""

    __slots__ = (
        "client", "headers", "http_version", "method", "path", "query_string", "raw_path", "scheme", "server"
    )  # fmt: skip

    def __init__(self, scope: Scope) -> None:
        self.method: str = scope["method"]
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        self.raw_path = raw_path
        self.path = unquote_to_bytes(raw_path).decode("utf-8", "surrogateescape")
        self.query_string = scope["query_string"].decode("latin-1")
        self.headers = Headers(scope["headers"])
        host, port = scope.get("server") or ("", 0)
        self.server = f"{host}:{port}"
        client_host, client_port = scope.get("client") or ("", 0)
        self.client = f"{client_host}:{client_port}"
        self.scheme: str = scope.get("scheme", "http")
        self.http_version: str = scope.get("http_version", "1.1")


class BodyBudget:
    """The request body bytes held at once, across all connections, and their cap."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def take(self, size: int) -> None:
        """Hold `size` more bytes, or a 503 problem when the cap would be passed."""
        if self.held + size > self.limit:
            raise ApiProblem(
                503,
                "server-busy",
                f"The mock holds {self.limit} bytes of request bodies at most, all clients together; retry.",
                headers={"Retry-After": "1"},
            )
        self.held += size

    def give(self, size: int) -> None:
        self.held -= size


class Channel:
    """The body and the answer of one request; the body's bytes count against `budget` until `release`."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, budget: BodyBudget, limits: MockLimits) -> None:
        self._scope = scope
        self._receive = receive
        self._send = send
        self._budget = budget
        self._limits = limits
        self._held = 0
        self.started = False  # the status line is on its way: nothing else can be answered

    def _hold(self, size: int) -> None:
        self._budget.take(size)
        self._held += size

    def release(self) -> None:
        """The request is answered: its body no longer counts."""
        self._budget.give(self._held)
        self._held = 0

    async def body(self, request: Request, *, max_bytes: int, timeout: float) -> bytes:
        """The whole body, or an ApiProblem (414 or 431 for the head, then 400, 408, 413 or 503) when it
        cannot be had within the bounds."""
        refused = head_problem(request, self._limits)
        if refused is not None:
            raise refused
        length_header = request.headers.get("content-length")
        if length_header is not None:
            if not (length_header.strip().isascii() and length_header.strip().isdigit()):
                detail = "Content-Length is not a number."
                errors = [FieldError("header", "Content-Length", detail)]
                raise ApiProblem(400, "validation-error", detail, errors=errors)
            length = int(length_header)
            if length > max_bytes:
                raise too_large(max_bytes)
            if length == 0:
                return b""
            self._hold(length)  # before a byte is read: a thousand stalled bodies cannot pass the cap
        elif request.headers.get("transfer-encoding") is None:  # neither: no body (RFC 9112, 6.3)
            return b""
        try:
            async with asyncio.timeout(timeout):
                return await self._read(max_bytes, counted=length_header is None)
        except TimeoutError:
            raise ApiProblem(
                408, "request-timeout", f"The request body did not arrive within {timeout:g} seconds."
            ) from None

    async def _read(self, max_bytes: int, *, counted: bool) -> bytes:
        """`counted`: each piece is held as it arrives (chunked), else the announced length already is."""
        chunks = bytearray()
        while True:
            message = await self._receive()
            if message["type"] != "http.request":  # the client went away: nothing of it is applied
                raise ApiProblem(400, "malformed-request", "The connection closed before the body was complete.")
            piece = message.get("body", b"")
            if len(chunks) + len(piece) > max_bytes:
                raise too_large(max_bytes)
            if counted:
                self._hold(len(piece))
            chunks += piece
            if not message.get("more_body", False):
                return bytes(chunks)

    async def respond(self, status: int, headers: HeaderList, body: bytes) -> None:
        self.started = True
        await self._send({"type": "http.response.start", "status": status, "headers": _encoded(headers)})
        await self._send({"type": "http.response.body", "body": body})

    async def problem(self, problem: ApiProblem) -> None:
        """A problem answered below the app; the connection is closed, since the body may be left unread."""
        await self.respond(*problem_response(problem))

    async def cut_short(self, status: int, headers: HeaderList, part: bytes) -> None:
        """Send the status line, the headers and `part` of a longer body, and return: an ASGI app that
        returns before its answer is complete has the server close the connection."""
        self.started = True
        await self._send({"type": "http.response.start", "status": status, "headers": _encoded(headers)})
        await self._send({"type": "http.response.body", "body": part, "more_body": True})

    async def dribble(self, status: int, headers: HeaderList, body: bytes, *, pieces: int, pause: float) -> None:
        """The whole answer, its body in `pieces` parts `pause` seconds apart (a slow network)."""
        self.started = True
        await self._send({"type": "http.response.start", "status": status, "headers": _encoded(headers)})
        size = max(1, -(-len(body) // pieces))
        for start in range(0, len(body), size):
            await asyncio.sleep(pause)
            last = start + size >= len(body)
            await self._send({"type": "http.response.body", "body": body[start : start + size], "more_body": not last})
        if not body:
            await self._send({"type": "http.response.body", "body": b""})


def problem_response(problem: ApiProblem) -> tuple[int, HeaderList, bytes]:
    body = orjson.dumps(problem.to_dict())
    headers = [
        ("content-type", PROBLEM_MEDIA_TYPE),
        ("content-length", str(len(body))),
        ("connection", "close"),
        *problem.headers.items(),
    ]
    return problem.status, headers, body


def too_large(limit: int) -> ApiProblem:
    return ApiProblem(413, "payload-too-large", f"The request body is over the size limit of {limit} bytes.")


def _encoded(headers: HeaderList) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]


class Handler(Protocol):
    """What the mock and the proxy are: something that answers one request."""

    async def answer(self, request: Request, channel: Channel) -> None: ...


def head_problem(request: Request, limits: MockLimits) -> ApiProblem | None:
    """A 414 or 431 for a head over the mock's limits (granian passes a head of up to `max_head_bytes`)."""
    if len(request.raw_path) + len(request.query_string) + 1 > limits.max_request_target_bytes:
        return ApiProblem(414, "uri-too-long", f"The request target is over {limits.max_request_target_bytes} bytes.")
    if sum(len(name) + len(value) + 4 for name, value in request.headers.items()) > limits.max_header_bytes:
        detail = f"The request has over {limits.max_header_bytes} bytes of header fields."
        return ApiProblem(431, "headers-too-large", detail)
    return None


def asgi_app(handler: Handler, limits: MockLimits) -> ASGIApp:
    """The ASGI app granian serves. An unexpected exception is a 500 problem document (logged), never
    granian's plain text; once the answer has started, the connection is closed instead."""
    budget = BodyBudget(limits.max_buffered_request_bytes)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # websockets and lifespan are switched off in the server
            return
        channel = Channel(scope, receive, send, budget, limits)
        try:
            await handler.answer(Request(scope), channel)
        except ApiProblem as problem:  # refused below the handler's own answers (the body's bounds)
            if channel.started:
                raise
            await channel.problem(problem)
        except asyncio.CancelledError:  # the server stops and a client still owes its body: a last word
            if not channel.started:
                await channel.problem(ApiProblem(503, "shutting-down", "The server is shutting down."))
        except Exception:
            log.exception("unexpected error answering %s %r", scope.get("method"), scope.get("path"))
            if channel.started:
                raise
            await channel.problem(
                ApiProblem(500, "internal-error", "The server failed unexpectedly; its log says why.")
            )
        finally:
            channel.release()

    return app
