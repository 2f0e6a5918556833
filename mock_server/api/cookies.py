"""The `activeOu` cookie's attributes, chosen per request so that it survives the common dev set-ups.

Why not always `SameSite=Lax`: a page on http://localhost:5173 calling the mock on http://127.0.0.1:4010
is *cross-site* (the site is the scheme and host name, ports do not count), and Chromium silently drops a
Lax cookie set by a cross-site fetch. For such a request the cookie is sent as `SameSite=None; Secure;
Partitioned`: Chromium accepts `Secure` from http://localhost and http://127.0.0.1 (potentially
trustworthy origins) and `Partitioned` (CHIPS) keeps it working where third-party cookies are blocked; the
partition is the page's site, which is exactly where the front end will send it back. A browser that does
not treat plain-http loopback as secure (older Firefox and Safari) refuses it: the mock logs that moment.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

log = logging.getLogger("mock_server")

SAME_SITE = {"samesite": "Lax"}
CROSS_SITE = {"samesite": "None", "secure": True, "partitioned": True}


def _site(scheme: str, host: str) -> tuple[str, str]:
    return scheme.lower(), host.lower().strip("[]")


def is_cross_site(origin: str | None, host: str | None, scheme: str = "http") -> bool:
    """True when a page on `origin` calling this server (reached as `host`) is cross-site (schemeful)."""
    if not origin or not host or origin == "null":
        return False
    try:
        parts = urlsplit(origin)
        served = urlsplit(f"{scheme}://{host}")
        return _site(parts.scheme, parts.hostname or "") != _site(served.scheme, served.hostname or "")
    except ValueError:  # a malformed Origin or Host ("http://[" ...): no site to compare, the defaults apply
        return False


def cookie_attributes(origin: str | None, host: str | None, scheme: str = "http") -> dict[str, object]:
    """Keyword arguments for `Response.set_cookie`, and a log line when the browser may still refuse them."""
    if not is_cross_site(origin, host, scheme):
        return dict(SAME_SITE)
    log.warning(
        "activeOu cookie set for the cross-site page %s (this mock is %s): sent as SameSite=None; Secure; "
        "Partitioned, which Chromium accepts over http on localhost/127.0.0.1 but Firefox and Safari may "
        "refuse. If the OU does not stick, open the page and the mock on the same host name.",
        origin,
        host,
    )
    return dict(CROSS_SITE)
