"""Before anything else: can the target be reached, over TLS the run trusts, with the token it has?

An unreachable or untrusted target is one line and its own exit code, not dozens of failed tests.
"""

from __future__ import annotations

import requests

from contracts.target import Target
from contracts.throttle import Throttle


def preflight(target: Target, gate: Throttle | None = None) -> str | None:
    """Why the run cannot start against `target`, in one line; None when it can (one request, counted)."""
    assert target.base_url is not None
    url = f"{target.base_url}/leads"
    if gate is not None:
        gate.acquire()
    try:
        response = requests.get(
            url,
            params={"limit": 1},
            headers={"Authorization": f"Bearer {target.token}"},
            timeout=target.request_timeout,
            verify=target.tls.verify,
            cert=target.tls.client_cert,
            allow_redirects=False,
        )
    except requests.exceptions.SSLError as exc:
        reason = "certificate not trusted" if "CERTIFICATE_VERIFY_FAILED" in str(exc) else "TLS handshake failed"
        return (
            f"{target.base_url}: {reason}; name a CA bundle with LEADVIBE_CA_BUNDLE=/path/ca.pem (or skip "
            "verification with LEADVIBE_TLS_VERIFY=0); a client certificate goes in LEADVIBE_CLIENT_CERT/_KEY"
        )
    except requests.exceptions.ConnectionError as exc:
        return f"{target.base_url}: cannot connect ({_short(exc)})"
    except requests.exceptions.Timeout:
        return f"{target.base_url}: no answer within {target.request_timeout:g} s (LEADVIBE_TIMEOUT)"
    if response.status_code == 401:
        return f"{target.base_url}: the token was refused (401 on GET /leads): check LEADVIBE_TOKEN"
    if response.status_code == 407:
        return f"{target.base_url}: a proxy asks for authentication (407)"
    return None  # any other answer is for the contracts to judge (429/503 are retried there)


def _short(error: Exception) -> str:
    text = str(error)
    for marker in ("Connection refused", "Name or service not known", "No route to host", "timed out"):
        if marker in text:
            return marker
    return error.__class__.__name__
