"""The validating proxy (`leadvibe-mock --proxy UPSTREAM`): real traffic judged against openapi.yaml.

Every request is forwarded to the upstream as it came (method, path, query, headers, body: the client's
Authorization and cookies included; the proxy holds no credentials of its own) and its answer is sent back
as it came, with one header added, `X-Contract-Verdict`: `ok`, `request-violation` (the client sent what
the API does not accept), `response-violation` (the upstream answered what the spec does not allow),
`drift` (an undeclared field, header or status) or `upstream-error`. Each exchange goes to the journal
(`proxy_journal.py`); the violations and drift also to the log, never with a header value or a body value.

Why not Prism's proxy mode: Prism 5.16 crashed on an invalid character in a header it sets itself, and
with `--errors` it answers its own 422s instead of the upstream's answer. Here validation only ever adds
findings: whatever it meets, the exchange passes through unchanged. What the proxy itself answers:

- the upstream cannot be reached or fails mid-answer: a 502 problem; it takes longer than
  `--upstream-timeout` for the whole exchange: a 504 problem (never a hang);
- a request body over `max_request_bytes` (mock_server.limits), or one not arriving within the body timeout:
  the mock's 413 / 408 problems (it is never forwarded);
- a path with a dot segment or an encoded slash (`%2e%2e`, `..%2f`): a 400 problem, never forwarded, since
  the upstream would resolve it outside its base path. Every other path goes upstream exactly as sent
  (never decoded, so never decoded twice);
- CORS, exactly as the mock: preflights from an allowed origin are answered here (any request header a
  front end asks for: Prefer, X-Request-Id, X-Mock-*), and a response to an allowed origin carries the
  mock's CORS headers instead of the upstream's (which name the upstream's own origins), so a front end
  on localhost can talk to staging through the proxy.

Judging a body runs on a worker thread (the event loop serves other clients meanwhile) and from
jsonschema-rs' `evaluate` output, whose errors are plain strings: `iter_errors` builds a Python object
holding the failing instance for every error, which for 3,000 bad keys took 1.5 GB.
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import json
import logging
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import parse_qs, quote, unquote

import httpx
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, MapAdapter, Rule

from leadvibe_contract.contract import Contract, OperationSpec
from leadvibe_contract.drift import undeclared_fields, undeclared_headers
from mock_server.api.app import SegmentExcept, exposed_headers, flask_rules, raw_cookies
from mock_server.api.problems import PROBLEM_MEDIA_TYPE, ApiProblem, FieldError
from mock_server.api.validation import RequestValidator
from mock_server.leads.timeutil import utc_now
from mock_server.proxy.journal import (
    DRIFT,
    REQUEST_VIOLATION,
    RESPONSE_VIOLATION,
    UPSTREAM_ERROR,
    Exchange,
    Finding,
    Journal,
)
from mock_server.proxy.recording import Recorder
from mock_server.serving.channel import Channel, Request, problem_response

log = logging.getLogger("mock_server.proxy.app")

VERDICT_HEADER = "X-Contract-Verdict"
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
MAX_FINDINGS = 10
# Headers of one connection only (RFC 9110 §7.6.1), and the framing the server on each side sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
        "proxy-authenticate", "proxy-authorization", "content-length", "host",
    }
)  # fmt: skip
CORS_METHODS = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
# Kept in the path sent upstream as they came; any other byte is percent-encoded (a `%` stays: never re-encoded).
PATH_SAFE = "/:@!$&'()*+,;=~%"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    upstream: bool = False  # the upstream's answer (its CORS headers give way to the mock's)


def _problem(status: int, slug: str, detail: str) -> Answer:
    body = json.dumps(ApiProblem(status, slug, detail).to_dict()).encode()
    return Answer(status, [("content-type", PROBLEM_MEDIA_TYPE)], body)


def escapes_base(raw_path: bytes) -> bool:
    """Whether an upstream would resolve the path outside its base: a `.` or `..` segment, plain or
    percent-encoded, or an encoded `/` or `\\` that a server may decode into a separator."""
    for segment in raw_path.split(b"/"):
        decoded = unquote(segment.decode("latin-1"))
        if decoded in (".", "..") or "/" in decoded or "\\" in decoded:
            return True
    return False


def route_map(contract: Contract) -> MapAdapter:
    """The mock's own routing (same rules, same converter): the operation of a method and path."""
    rules = flask_rules(contract)
    routes = Map(
        [
            Rule(rules[op.operation_id], endpoint=op.operation_id, methods=[op.method.upper()])
            for op in contract.operations.values()
        ],
        converters={"except": SegmentExcept},
        merge_slashes=False,
        strict_slashes=False,
        redirect_defaults=False,
    )
    return routes.bind("proxy")


def _decoded(body: bytes, encoding: str) -> bytes | None:
    """The body without its content coding, for validation only (what is forwarded stays as it came)."""
    encoding = encoding.strip().lower()
    try:
        if encoding in ("", "identity"):
            return body
        if encoding in ("gzip", "x-gzip"):
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except (OSError, zlib.error, EOFError):
        return None
    return None  # br, zstd ...: not validated


class ValidatingProxy:
    """Answers each request (`channel.Handler`): forwards, judges, journals. One per server process."""

    def __init__(
        self,
        upstream: str,
        contract: Contract,
        journal: Journal,
        *,
        timeout: float,
        cors_origins: Sequence[str],
        max_body_bytes: int,
        body_timeout: float,
        recorder: Recorder | None = None,
    ) -> None:
        self.upstream = httpx.URL(upstream)
        self.recorder = recorder  # --record DIR: each exchange of an operation is kept (mock_server.proxy.recording)
        self.contract = contract
        self.journal = journal
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        self.validator = RequestValidator(contract, utc_now)
        self.routes = route_map(contract)
        self.cors_origins = [re.compile(origin) for origin in cors_origins]
        self.exposed = ", ".join([*exposed_headers(contract), VERDICT_HEADER])
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        """Created in the worker's event loop. No environment (proxies, .netrc credentials), no redirects
        followed, and a cookie jar that keeps nothing: one client's cookies never reach another's request.
        No cap on connections (httpx's default is 100): slow exchanges must not make the others queue for
        a pool slot; what bounds them is the number of clients the server accepts."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
                trust_env=False,
                follow_redirects=False,
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            )
        return self._client

    def allowed_origin(self, origin: str | None) -> bool:
        return origin is not None and any(p.fullmatch(origin) or p.pattern == origin for p in self.cors_origins)

    async def answer(self, request: Request, channel: Channel) -> None:
        headers = list(request.headers.items())
        origin = request.headers.get("origin")
        try:
            body = await channel.body(request, max_bytes=self.max_body_bytes, timeout=self.body_timeout)
        except ApiProblem as problem:
            status, problem_headers, data = problem_response(problem)
            answer = Answer(status, list(problem_headers), data)
            await self._respond(channel, answer, REQUEST_VIOLATION, origin)
            return
        if escapes_base(request.raw_path):
            detail = "A dot segment or an encoded slash in the path is not forwarded: it would leave the base path."
            refused = ApiProblem(400, "validation-error", detail, errors=[FieldError("path", "", detail)])
            status, problem_headers, data = problem_response(refused)
            self._record(Exchange(request.method, request.path, None, status, [Finding(REQUEST_VIOLATION, detail)]))
            await self._respond(channel, Answer(status, list(problem_headers), data), REQUEST_VIOLATION, origin)
            return
        answer, verdict = await self.handle(
            request.method, request.path, request.query_string, headers, body, request.raw_path
        )
        await self._respond(channel, answer, verdict, origin)

    async def _respond(self, channel: Channel, answer: Answer, verdict: str, origin: str | None) -> None:
        headers = list(answer.headers)
        if self.allowed_origin(origin):
            if answer.upstream:
                headers = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
            headers += [
                ("access-control-allow-origin", origin or ""),
                ("access-control-allow-credentials", "true"),
                ("access-control-expose-headers", self.exposed),
                ("vary", "Origin"),
            ]
        if not any(name.lower() == "date" for name, _ in headers):  # the upstream's own Date is kept
            headers.append(("date", email.utils.formatdate(usegmt=True)))
        headers.append((VERDICT_HEADER, verdict))
        await channel.respond(answer.status, headers, answer.body)

    async def handle(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[str, str]],
        body: bytes,
        raw_path: bytes,
    ) -> tuple[Answer, str]:
        """Preflight, or forward and judge: the answer and its verdict."""
        given = dict(headers)
        if (
            method == "OPTIONS"
            and "access-control-request-method" in given
            and self.allowed_origin(given.get("origin"))
        ):
            preflight = [
                ("access-control-allow-methods", CORS_METHODS),
                # Whatever the page asks for (as the mock's flask-cors `allow_headers="*"` does).
                ("access-control-allow-headers", given.get("access-control-request-headers", "")),
                ("access-control-max-age", "600"),
            ]
            return Answer(204, preflight, b""), "ok"
        operation, findings = self._judge_request(method, path, query, given, body)
        exchange = Exchange(method, path, operation.operation_id if operation else None, 0, findings)
        answer = await self._forward(method, raw_path, query, headers, body, exchange)
        exchange.status = answer.status
        if operation is not None and exchange.verdict != UPSTREAM_ERROR:
            exchange.findings += await asyncio.to_thread(self._judge_response, operation, answer, "prefer" in given)
            if self.recorder is not None:
                await asyncio.to_thread(self._keep, operation, method, path, query, body, answer)
        self._record(exchange)
        return answer, exchange.verdict

    def _judge_request(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[OperationSpec | None, list[Finding]]:
        try:
            operation_id, arguments = self.routes.match(path, method)
        except MethodNotAllowed:
            return None, [Finding(REQUEST_VIOLATION, f"{method} is not an operation of {path} in the spec")]
        except NotFound:
            return None, [Finding(REQUEST_VIOLATION, f"no operation of the spec at {method} {path}")]
        operation = self.contract.operations[str(operation_id)]
        try:
            self.validator.validate(
                operation,
                arguments,
                parse_qs(query, keep_blank_values=True),
                headers.get("content-type"),
                body,
                raw_cookies(headers.get("cookie", "")),
            )
        except ApiProblem as problem:
            details = [f"{e.location} {e.name or '(whole body)'}: {e.detail}" for e in problem.errors]
            found = details or [f"{problem.status} {problem.slug}: {problem.detail}"]
            return operation, [Finding(REQUEST_VIOLATION, detail[:300]) for detail in found[:MAX_FINDINGS]]
        except Exception as exc:  # a validator bug must not stop the traffic
            log.exception("could not validate %s %r", method, path)
            return operation, [Finding(REQUEST_VIOLATION, f"could not be validated: {type(exc).__name__}")]
        return operation, []

    async def _forward(
        self, method: str, path: bytes, query: str, headers: list[tuple[str, str]], body: bytes, exchange: Exchange
    ) -> Answer:
        base = self.upstream.raw_path.split(b"?", 1)[0].rstrip(b"/")
        raw_path = base + quote(path, safe=PATH_SAFE).encode("ascii")
        url = self.upstream.copy_with(raw_path=raw_path + (b"?" + query.encode("latin-1") if query else b""))
        sent = [(name, value) for name, value in headers if name not in HOP_BY_HOP]
        client = self.client()
        request = client.build_request(method, url, headers=sent, content=body or None)
        for name in list(request.headers):  # httpx's defaults (User-Agent, Accept ...) are not the client's
            if name.lower() not in {n for n, _ in sent} and name.lower() not in HOP_BY_HOP:
                del request.headers[name]
        try:
            async with asyncio.timeout(self.timeout):
                response = await client.send(request, stream=True)
                try:
                    data = bytearray()
                    async for chunk in response.aiter_raw():
                        data += chunk
                        if len(data) > MAX_RESPONSE_BYTES:
                            raise _TooLarge
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            exchange.findings.append(Finding(UPSTREAM_ERROR, f"no answer within {self.timeout:g} s"))
            return _problem(504, "upstream-timeout", f"The upstream did not answer within {self.timeout:g} seconds.")
        except _TooLarge:
            exchange.findings.append(Finding(UPSTREAM_ERROR, f"answer over {MAX_RESPONSE_BYTES} bytes"))
            return _problem(502, "upstream-error", f"The upstream's answer is over {MAX_RESPONSE_BYTES} bytes.")
        except httpx.HTTPError as exc:
            exchange.findings.append(Finding(UPSTREAM_ERROR, f"{type(exc).__name__}"))
            return _problem(
                502, "upstream-error", f"The upstream could not be reached or failed: {type(exc).__name__}."
            )
        kept = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in response.headers.raw
            if name.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        return Answer(response.status_code, kept, bytes(data), upstream=True)

    def _judge_response(self, operation: OperationSpec, answer: Answer, preferred: bool) -> list[Finding]:
        try:
            return self._response_findings(operation, answer, preferred)
        except Exception as exc:  # never let judging break the exchange
            log.exception("could not judge the response of %s", operation.label)
            return [Finding(RESPONSE_VIOLATION, f"could not be validated: {type(exc).__name__}")]

    def _response_findings(self, operation: OperationSpec, answer: Answer, preferred: bool) -> list[Finding]:
        status = answer.status
        if status not in operation.responses:
            return [Finding(DRIFT, f"undeclared status {status}")]
        headers = {name.lower(): value for name, value in answer.headers}
        findings = [
            Finding(DRIFT, f"undeclared header {name} on a {status}")
            for name in undeclared_headers(self.contract, operation, status, list(headers))
            # RFC 7240's answer to the request's own Prefer header is not drift.
            if not (preferred and name == "preference-applied")
        ]
        validator = operation.responses[status]
        if validator is None:
            return findings
        raw = _decoded(answer.body, headers.get("content-encoding", ""))
        if raw is None:
            return findings  # a content coding it cannot read: the body is not judged
        try:
            document = json.loads(raw)
        except ValueError:
            media = headers.get("content-type", "(none)")
            return [*findings, Finding(RESPONSE_VIOLATION, f"a {status} whose body is not JSON ({media[:60]})")]
        errors = validator.evaluate(document).errors()
        for error in errors[:MAX_FINDINGS]:
            where = error["instanceLocation"] or "(whole body)"
            keyword = error["schemaLocation"].rsplit("/", 1)[-1]
            findings.append(Finding(RESPONSE_VIOLATION, f"{status} {where}: does not satisfy '{keyword}'"))
        if errors:  # undeclared fields are looked for in a valid body only: the closed schema's errors
            return findings  # would repeat each of the violations above, as costly Python objects
        findings += [
            Finding(DRIFT, f"undeclared field {pointer} in a {status}")
            for pointer, _ in undeclared_fields(operation, status, document)[:MAX_FINDINGS]
        ]
        return findings

    def _keep(self, operation: OperationSpec, method: str, path: str, query: str, body: bytes, answer: Answer) -> None:
        assert self.recorder is not None
        encoding = next((v for k, v in answer.headers if k.lower() == "content-encoding"), "")
        try:
            self.recorder.record(
                operation.operation_id, method, path, query, body, answer.status, _decoded(answer.body, encoding) or b""
            )
        except Exception:  # a disk error, an answer too deeply nested to redact: the exchange still passes
            log.exception("could not record %s %r", method, path)

    def _record(self, exchange: Exchange) -> None:
        if exchange.findings:
            log.warning(
                "%s %r -> %s %s: %s",
                exchange.method,
                exchange.path,
                exchange.status,
                exchange.verdict,
                "; ".join(finding.detail for finding in exchange.findings),
            )
        try:
            self.journal.record(exchange)
        except OSError:
            log.exception("could not write the journal")


class _TooLarge(Exception):
    pass
