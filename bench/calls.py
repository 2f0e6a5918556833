"""The requests the benchmark sends, defined once for both wrk and the pre-flight check.

The pre-flight check sends the very request wrk will send (same method, headers and body bytes, none
of requests' default headers), so a server that would answer wrk with an error is caught before any
number is taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests

TOKEN = "kbn_pat_demo"
AUTH_HEADERS = {"Authorization": f"Bearer {TOKEN}"}
# Headers requests adds by default and wrk does not send; None removes them from the request.
_NOT_SENT_BY_WRK: dict[str, str | None] = {"Accept": None, "Accept-Encoding": None, "User-Agent": None}


class PreflightFailed(Exception):
    """A server answered a benchmark request with something other than 2xx."""


@dataclass(frozen=True)
class Call:
    """One HTTP request of the benchmark; `label` names it in the report."""

    method: str
    path: str
    body: str | None = None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def headers(self) -> dict[str, str]:
        """Every header besides Host, Content-Length and Connection (which wrk and requests add)."""
        if self.body is None:
            return dict(AUTH_HEADERS)
        return {**AUTH_HEADERS, "Content-Type": "application/json"}

    def lua_script(self) -> str | None:
        """The wrk script that sets method and body, or None for a plain GET (wrk's default)."""
        if self.method == "GET" and self.body is None:
            return None
        lines = [f"wrk.method = {_lua_string(self.method)}"]
        if self.body is not None:
            lines.append(f"wrk.body = {_lua_string(self.body)}")
        return "\n".join(lines) + "\n"


def _lua_string(text: str) -> str:
    """A Lua long-bracket literal, which needs no escaping; its level avoids any `]=*]` in the text."""
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


GET_LEAD = Call("GET", "/lead/ld_123")
PUT_LEAD = Call("PUT", "/lead/ld_123", json.dumps({"owner_name": "Jane Smith", "metadata": {"company": "Acme Corp"}}))
LIST_LEADS = Call("GET", "/leads")
LIST_FILTERED = Call("GET", "/leads?min_score=100&page=3")


def preflight(base_url: str, call: Call, timeout_s: float = 10.0) -> int:
    """Send `call` once; raise PreflightFailed unless the answer is 2xx. Returns the body's size in bytes."""
    try:
        response = requests.request(
            call.method,
            base_url + call.path,
            headers={**_NOT_SENT_BY_WRK, **call.headers},
            data=None if call.body is None else call.body.encode(),
            timeout=timeout_s,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise PreflightFailed(f"{call.label}: no answer ({exc})") from exc
    if not 200 <= response.status_code < 300:
        raise PreflightFailed(f"{call.label}: HTTP {response.status_code} {response.text[:300]!r}")
    return len(response.content)
