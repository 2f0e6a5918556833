"""Before anything else: can the target be reached, over TLS the run trusts, with the credentials it has,
at a base path that serves the API?

An unreachable or untrusted target is one line and its own exit code (3); a configuration mistake (a base
path that answers 404 to the documented paths, a token that is refused) is one line and exit 2; neither
is dozens of failed tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from contracts.outcome import EXIT_UNAVAILABLE, EXIT_USAGE
from contracts.target import Target
from contracts.throttle import Throttle

PROBED = ("/leads", "/org-units")  # documented collection paths, readable by any valid token


@dataclass(frozen=True)
class Refusal:
    """Why the run cannot start, in one line, and its exit code."""

    line: str
    exit_code: int


def preflight(target: Target, gate: Throttle | None = None) -> Refusal | None:
    """Why the run cannot start against `target`; None when it can (a few requests, counted)."""
    assert target.base_url is not None
    answer = _get(target, PROBED[0], target.token, gate)
    if isinstance(answer, Refusal):
        return answer
    if answer.status_code == 401:
        return Refusal(f"{target.base_url}: LEADVIBE_TOKEN was refused (401 on GET /leads)", EXIT_USAGE)
    if answer.status_code == 407:
        return Refusal(f"{target.base_url}: a proxy asks for authentication (407)", EXIT_UNAVAILABLE)
    if answer.status_code == 404:
        other = _get(target, PROBED[1], target.token, gate)
        if isinstance(other, Refusal) or other.status_code == 404:
            return Refusal(
                f"{target.base_url}: GET {' and GET '.join(PROBED)} answer 404: is LEADVIBE_BASE_URL the API's "
                "base (the path before /leads)?",
                EXIT_USAGE,
            )
    for token in target.other_tokens:
        checked = _get(target, PROBED[0], token, gate)
        if not isinstance(checked, Refusal) and checked.status_code == 401:
            return Refusal(
                f"{target.base_url}: LEADVIBE_OTHER_OU_TOKEN was refused (401 on GET /leads): it must be a valid "
                "token of another OU or organization",
                EXIT_USAGE,
            )
    return None  # any other answer is for the contracts to judge (429/503 are retried there)


def _get(target: Target, path: str, token: str, gate: Throttle | None) -> requests.Response | Refusal:
    if gate is not None:
        gate.acquire()
    try:
        return requests.get(
            f"{target.base_url}{path}",
            params={"limit": 1} if path == "/leads" else None,
            headers={"Authorization": f"Bearer {token}"},
            timeout=target.request_timeout,
            verify=target.tls.verify,
            cert=target.tls.client_cert,
            allow_redirects=False,
        )
    except requests.exceptions.SSLError as exc:
        return Refusal(f"{target.base_url}: {_tls_reason(str(exc))}", EXIT_UNAVAILABLE)
    except requests.exceptions.ConnectionError as exc:
        return Refusal(f"{target.base_url}: cannot connect ({_short(exc)})", EXIT_UNAVAILABLE)
    except requests.exceptions.Timeout:
        return Refusal(
            f"{target.base_url}: no answer within {target.request_timeout:g} s (LEADVIBE_TIMEOUT)", EXIT_UNAVAILABLE
        )


def _tls_reason(error: str) -> str:
    """What went wrong with TLS, and the one fix for it."""
    if "CERTIFICATE_VERIFY_FAILED" in error:
        return (
            "certificate not trusted; name a CA bundle with LEADVIBE_CA_BUNDLE=/path/ca.pem (or skip verification "
            "with LEADVIBE_TLS_VERIFY=0)"
        )
    if any(sign in error for sign in ("WRONG_VERSION_NUMBER", "record layer failure", "http request")):
        return "the port answers plain HTTP, not TLS: use http:// in LEADVIBE_BASE_URL"
    return (
        "TLS handshake failed; a client certificate goes in LEADVIBE_CLIENT_CERT/_KEY, a CA bundle in "
        "LEADVIBE_CA_BUNDLE"
    )


def _short(error: Exception) -> str:
    text = str(error)
    for marker in ("Connection refused", "Name or service not known", "No route to host", "timed out"):
        if marker in text:
            return marker
    return error.__class__.__name__
