"""One small HTTP client for the semantic contracts, over the network (or WSGI: contracts.inprocess).

Every response remembers its request, so a violated contract can print a curl command that reproduces
it. Tokens never appear in that output: the command refers to `$LEADVIBE_TOKEN` instead.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shlex
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.cookies import RequestsCookieJar

from contracts.throttle import Throttle
from contracts.transient import RetryPolicy


class ReadOnlyViolation(Exception):
    """A read-only run was about to send something else than GET: refused before it left."""


READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class SentRequest:
    method: str
    url: str
    token_name: str | None
    json_body: Any = None
    basic: bool = False  # service credentials (HTTP Basic), named by their variable like a token

    def curl(self) -> str:
        parts = ["curl", "-X", self.method, shlex.quote(self.url)]
        if self.token_name is not None and self.basic:
            parts += ["-u", f'"${self.token_name}"']
        elif self.token_name is not None:
            parts += ["-H", f'"Authorization: Bearer ${self.token_name}"']
        if self.json_body is not None:
            parts += ["-H", "'Content-Type: application/json'", "-d", shlex.quote(json.dumps(self.json_body))]
        return " ".join(parts)


@dataclass(frozen=True)
class ApiResponse:
    status: int
    headers: Mapping[str, str]
    text: str
    request: SentRequest

    def json(self) -> Any:
        return json.loads(self.text) if self.text else None

    def describe(self) -> str:
        return f"[{self.status}] {self.text[:600]}\nReproduce with:\n    {self.request.curl()}"


@dataclass
class TokenNames:
    """Which environment variable holds each token, for reproducers that never print a secret."""

    names: dict[str, str] = field(default_factory=dict)

    def name_of(self, token: str | None) -> str | None:
        if token is None:
            return None
        return self.names.get(token, "TOKEN")


class ApiClient(ABC):
    """Sends one request with an optional bearer token and JSON body; remembers it for the reproducer."""

    def __init__(self, token_names: TokenNames) -> None:
        self._names = token_names
        # Every answer, for the run's API coverage (contracts.coverage): method, path, params, status, text.
        self.observe: Callable[[str, str, Mapping[str, Any], int, str], None] | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        basic: tuple[str, str] | None = None,
    ) -> ApiResponse:
        """With `basic` (client id, secret), HTTP Basic service credentials are sent instead of `token`."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        name = self._names.name_of(token)
        if basic is not None:
            pair = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode()
            headers, name = {"Authorization": f"Basic {pair}"}, "LEADVIBE_BASIC_CREDENTIALS"
        status, response_headers, text, url = self._send(method, path, headers, dict(params or {}), json_body)
        sent = SentRequest(method, url, name, json_body, basic=basic is not None)
        if self.observe is not None:
            self.observe(method, path, dict(params or {}), status, text)
        return ApiResponse(status, {k.lower(): v for k, v in response_headers.items()}, text, sent)

    @abstractmethod
    def _send(
        self, method: str, path: str, headers: dict[str, str], params: dict[str, Any], json_body: Any
    ) -> tuple[int, Mapping[str, str], str, str]:
        """Status, headers, text and the full URL of one request."""


class _NoCookies(RequestsCookieJar):
    """Each request stands alone: the active OU never leaks from one contract into the next."""

    def set_cookie(self, cookie: Any, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass(frozen=True)
class Tls:
    """How to trust the target: a CA bundle (or no verification at all), and a client certificate."""

    verify: bool | str = True
    cert: str | None = None
    key: str | None = None

    @property
    def client_cert(self) -> str | tuple[str, str] | None:
        return (self.cert, self.key) if self.cert and self.key else self.cert


class HttpClient(ApiClient):
    """Calls a deployment over HTTP: throttled, within the budget, transient answers retried, writes checked."""

    def __init__(
        self,
        base_url: str,
        timeout: float,
        throttle: Throttle,
        token_names: TokenNames,
        *,
        read_only: bool,
        retries: RetryPolicy,
        tls: Tls = Tls(),
        writing: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self._writing = writing
        super().__init__(token_names)
        self._read_only = read_only
        self._base_url = base_url
        self._timeout = timeout
        self._throttle = throttle
        self._retries = retries
        self._session = requests.Session()
        self._session.cookies = _NoCookies()
        self._session.verify = tls.verify
        self._session.cert = tls.client_cert
        # The last check before a write leaves (set by the run: only the run's own leads and markers).
        self.guard: Callable[[str, str, Mapping[str, Any], Any], None] | None = None

    def _send(
        self, method: str, path: str, headers: dict[str, str], params: dict[str, Any], json_body: Any
    ) -> tuple[int, Mapping[str, str], str, str]:
        if self._read_only and method.upper() not in READ_METHODS:
            raise ReadOnlyViolation(f"read-only run: refused to send {method} {path}")
        if self.guard is not None:
            self.guard(method, path, params, json_body)

        quiet = contextlib.nullcontext if method.upper() in READ_METHODS else self._writing

        def attempt() -> requests.Response:
            with quiet():  # a write waits while another worker reads for consistency (contracts.quiet) ...
                self._throttle.acquire()  # ... then takes its rate slot: writes that waited do not burst
                return self._session.request(
                    method,
                    f"{self._base_url}{path}",
                    params=params,
                    json=json_body,
                    headers=headers,
                    timeout=self._timeout,
                    allow_redirects=False,
                )

        response = self._retries.send(
            f"{method} {path}", attempt, lambda r: r.status_code, lambda r: r.headers.get("Retry-After")
        )
        return response.status_code, response.headers, response.text, response.url
