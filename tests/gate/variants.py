"""Variants of the mock for the gate's self-test: broken ones, to show that the gate catches each kind of
drift, and legal ones, the mock answering differently only where LeadVibe's docs leave room, to show that
the gate raises no false alarm against a correct deployment.

They live in the tests only: the product never carries a switch to break itself.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask

from contracts.inprocess import MOCK_DELETION_DELAY
from mock_server.api.app import create_app
from mock_server.api.auth import Scope
from mock_server.config import MockConfig
from mock_server.leads.errors import LeadNotFound
from mock_server.leads.raw_json import compact_json
from mock_server.leads.store import LeadRecord, LeadStore

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Variant:
    """A WSGI app that serves the lead API, its store (to count leads) and how to reset it."""

    app: Wsgi
    store: LeadStore

    def reset(self) -> None:
        self.store.reset()


# One app built at a time: werkzeug compiles each route with `ast`, which CPython 3.11 does not make safe to use
# from several threads at once (tests/live builds its targets in a thread pool; a clash is a SystemError).
_BUILDING = threading.Lock()


def _flask(store_class: type[LeadStore] = LeadStore) -> Flask:
    with _BUILDING:
        return create_app(MockConfig(deletion_delay=MOCK_DELETION_DELAY, store_class=store_class))


def _mock(store_class: type[LeadStore] = LeadStore, wrap: Callable[[Wsgi], Wsgi] = lambda app: app) -> Variant:
    app = _flask(store_class)
    return Variant(wrap(app), app.extensions["leadvibe"].store)


Headers = list[tuple[str, str]]


def _middleware(
    app: Wsgi,
    body: Callable[[Any], Any] = lambda document: document,
    headers: Callable[[str, Headers], Headers] = lambda status, headers: headers,
    request: Callable[[dict[str, Any]], None] = lambda environ: None,
) -> Wsgi:
    """A middleware that changes requests, and the JSON bodies and the headers of responses."""

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request(environ)
        captured: dict[str, Any] = {}

        def capture(status: str, sent: Headers, exc_info: Any = None) -> Any:
            captured.update(status=status, headers=list(sent))
            return lambda data: None

        data = b"".join(app(environ, capture))
        status, sent = captured["status"], captured["headers"]
        media_type = next((v for k, v in sent if k.lower() == "content-type"), "")
        if data and "json" in media_type:
            data = json.dumps(body(json.loads(data))).encode()
            sent = [(k, v) for k, v in sent if k.lower() != "content-length"] + [("Content-Length", str(len(data)))]
        start_response(status, headers(status, sent))
        return [data]

    return middleware


def _visit(node: Any, change: Callable[[dict[str, Any]], None]) -> Any:
    """Applies `change` to every object of a document, except within metadata (the client's own data)."""
    if isinstance(node, dict):
        change(node)
        for key, value in node.items():
            if key != "metadata":
                _visit(value, change)
    elif isinstance(node, list):
        for value in node:
            _visit(value, change)
    return node


def rewrite_leads(app: Wsgi, change: Callable[[dict[str, Any]], None]) -> Wsgi:
    """A middleware that changes every lead object in JSON responses."""

    def leads(node: dict[str, Any]) -> None:
        if {"lead_id", "org_id", "score"} <= set(node):
            change(node)

    return _middleware(app, body=lambda document: _visit(document, leads))


def missing_field() -> Variant:
    """Drops `created_at` from every lead (a null field may be left out; a required one may not)."""
    return _mock(wrap=lambda app: rewrite_leads(app, lambda lead: lead.pop("created_at", None)))


def wrong_type() -> Variant:
    """Serves `score` as a string."""
    return _mock(wrap=lambda app: rewrite_leads(app, lambda lead: lead.update(score=str(lead["score"]))))


def _ignore_auth(app: Wsgi) -> Wsgi:
    known = {"Bearer kbn_pat_demo", "Bearer kbn_pat_demo_emea", "Bearer kbn_pat_other"}

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_AUTHORIZATION") not in known:
            environ["HTTP_AUTHORIZATION"] = "Bearer kbn_pat_demo"
        return app(environ, start_response)

    return middleware


def auth_ignored() -> Variant:
    """Treats a missing or unknown token as the demo token."""
    return _mock(wrap=_ignore_auth)


class _StillReadable(LeadStore):
    def delete_lead(self, scope: Scope, lead_id: str, delay: timedelta | None = None) -> dict[str, Any]:
        with self._lock:
            record = self._leads.get(lead_id)
            answer = super().delete_lead(scope, lead_id, delay)
            if record is not None:  # the deletion is recorded, but the lead stays
                self._leads[lead_id] = record
                self._index[scope].add(record)
            return answer


def deleted_lead_still_readable() -> Variant:
    return _mock(_StillReadable)


class _Forgetful(LeadStore):
    def update_lead(self, scope: Scope, lead_id: str, changes: Any) -> dict[str, Any]:
        with self._lock:
            lead = self._visible(scope, lead_id)
            view = lead.view()
            view.update({key: changes[key] for key in ("owner_name", "metadata") if key in changes})
            return view  # answers as if written, stores nothing


def write_not_persisted() -> Variant:
    return _mock(_Forgetful)


class _Leaky(LeadStore):
    def _visible(self, scope: Scope, lead_id: str) -> LeadRecord:
        lead = self._leads.get(lead_id)
        if lead is None or lead.org_id != scope.org_id:  # checks the org, forgets the OU
            raise LeadNotFound(lead_id)
        return lead


def other_ou_visible() -> Variant:
    return _mock(_Leaky)


class _NullKeeping(LeadStore):
    def patch_metadata(self, scope: Scope, lead_id: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        kept = {key: value for key, value in patch.items() if value is not None}  # ignores null (docs: removes)
        return super().patch_metadata(scope, lead_id, kept or {"_": ""})


def patch_ignores_null() -> Variant:
    """PATCH merges, but a key sent as null stays: caught on every run, not only when Hypothesis draws a null."""
    return _mock(_NullKeeping)


def correct() -> Variant:
    return _mock()


# -- legal variants: each answers differently from the mock only where the docs leave room -----------------

_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$")


def _timestamps(render: Callable[[str, str], str]) -> Callable[[Any], Any]:
    """A body change that rewrites every timestamp the mock sends: render(seconds, fraction)."""

    def change(node: dict[str, Any]) -> None:
        for key, value in node.items():
            if isinstance(value, str) and (match := _TIMESTAMP.match(value)):
                node[key] = render(match[1], match[2] or "")

    return lambda document: _visit(document, change)


def _sign(value: str) -> str:
    return "s." + base64.urlsafe_b64encode(value.encode()).decode().rstrip("=") + ".sig"


def _unsign(environ: dict[str, Any]) -> None:
    def plain(match: re.Match[str]) -> str:
        encoded = match[1]
        return "activeOu=" + base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()

    if "HTTP_COOKIE" in environ:
        environ["HTTP_COOKIE"] = re.sub(r"activeOu=s\.([A-Za-z0-9_-]+)\.sig", plain, environ["HTTP_COOKIE"])


def _signed_cookie(status: str, headers: Headers) -> Headers:
    def signed(value: str) -> str:
        return re.sub(r"^activeOu=([^;]*)", lambda m: "activeOu=" + _sign(m[1]), value)

    return [(k, signed(v) if k.lower() == "set-cookie" else v) for k, v in headers]


def offsets_nanoseconds_and_a_signed_cookie() -> Variant:
    """RFC 3339 with a `+00:00` offset and nine fractional digits (docs §1.4); the activeOu cookie's value
    signed and encoded (its value is the server's own, docs §1.3)."""
    nanoseconds = _timestamps(lambda seconds, fraction: f"{seconds}.{fraction.ljust(9, '0')}+00:00")
    return _mock(wrap=lambda app: _middleware(app, body=nanoseconds, headers=_signed_cookie, request=_unsign))


def _plain_errors(status: str, headers: Headers) -> Headers:
    def plain(name: str, value: str) -> str:
        if name.lower() == "content-type" and value.startswith("application/problem+json"):
            return "application/json"
        return 'Token realm="leadvibe"' if name.lower() == "www-authenticate" else value

    return [(k, plain(k, v)) for k, v in headers]


def _sparse(document: Any) -> Any:
    """Null fields and undocumented optional ones left out; an undeclared field added at the top."""

    def change(node: dict[str, Any]) -> None:
        for key in [key for key, value in node.items() if value is None or key in ("is_active", "event_id")]:
            del node[key]
        if node.get("message") == "Event accepted":
            node.pop("lead_id", None)  # attributed asynchronously (openapi.yaml, ingestEvent)

    _visit(document, change)
    return {**document, "served_by": "edge-1"} if isinstance(document, dict) else document


class _OtherShapes(LeadStore):
    """Ids of another shape than the mock's (docs §1.5 state none), and seeded metadata keys and event
    types with spaces and punctuation (§5, §14.7)."""

    def _new_id(self, prefix: str) -> str:
        return super()._new_id(prefix).replace("_", ".", 1) + ":v2"

    def reset(self, seed: Any = None) -> None:
        super().reset(seed)
        with self._lock:
            for lead in self._leads.values():
                lead.metadata["Lead Source (v2)"] = compact_json("Q&A Attended – Zürich")  # kept as the store keeps it
                lead.changed()


def terse_and_other_shaped() -> Variant:
    """Timestamps with whole seconds (so two writes within a second keep `updated_at`), errors served as
    `application/json` (the docs never name problem+json, §1.7), a 401 challenge that is not Bearer, sparse
    answers and ids, metadata keys and event types of other shapes. (One variant, not two: every legal
    difference costs the self-test a whole live run, and these are independent of one another.)"""
    whole = _timestamps(lambda seconds, fraction: f"{seconds}Z")
    return _mock(
        _OtherShapes, wrap=lambda app: _middleware(app, body=lambda d: _sparse(whole(d)), headers=_plain_errors)
    )


LEGAL_VARIANTS: dict[str, Callable[[], Variant]] = {
    "offsets_nanoseconds_and_a_signed_cookie": offsets_nanoseconds_and_a_signed_cookie,
    "terse_and_other_shaped": terse_and_other_shaped,
}

VARIANTS: dict[str, Callable[[], Variant]] = {
    "missing_field": missing_field,
    "wrong_type": wrong_type,
    "auth_ignored": auth_ignored,
    "deleted_lead_still_readable": deleted_lead_still_readable,
    "write_not_persisted": write_not_persisted,
    "other_ou_visible": other_ou_visible,
    "patch_ignores_null": patch_ignores_null,
}
