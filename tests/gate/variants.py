"""Deliberately broken variants of the mock, to show that the conformance gate catches each kind of drift.

They live in the tests only: the product never carries a switch to break itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask

from contracts.inprocess import MOCK_DELETION_DELAY
from mock_server.app import create_app
from mock_server.auth import Scope
from mock_server.config import MockConfig
from mock_server.errors import LeadNotFound
from mock_server.store import LeadRecord, LeadStore

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Variant:
    """A WSGI app that serves the lead API, its store (to count leads) and how to reset it."""

    app: Wsgi
    store: LeadStore

    def reset(self) -> None:
        self.store.reset()


def _flask(store_class: type[LeadStore] = LeadStore) -> Flask:
    return create_app(MockConfig(deletion_delay=MOCK_DELETION_DELAY, store_class=store_class))


def _mock(store_class: type[LeadStore] = LeadStore, wrap: Callable[[Wsgi], Wsgi] = lambda app: app) -> Variant:
    app = _flask(store_class)
    return Variant(wrap(app), app.extensions["leadvibe"].store)


def _rewrite_leads(app: Wsgi, change: Callable[[dict[str, Any]], None]) -> Wsgi:
    """A middleware that changes every lead object in JSON responses."""

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if {"lead_id", "org_id", "score"} <= set(node):
                change(node)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda data: None

        body = b"".join(app(environ, capture))
        headers = captured["headers"]
        if any(k.lower() == "content-type" and v.startswith("application/json") for k, v in headers):
            document = json.loads(body)
            visit(document)
            body = json.dumps(document).encode()
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers)
        return [body]

    return middleware


def missing_field() -> Variant:
    """Drops `owner_name` from every lead."""
    return _mock(wrap=lambda app: _rewrite_leads(app, lambda lead: lead.pop("owner_name", None)))


def wrong_type() -> Variant:
    """Serves `score` as a string."""
    return _mock(wrap=lambda app: _rewrite_leads(app, lambda lead: lead.update(score=str(lead["score"]))))


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


VARIANTS: dict[str, Callable[[], Variant]] = {
    "missing_field": missing_field,
    "wrong_type": wrong_type,
    "auth_ignored": auth_ignored,
    "deleted_lead_still_readable": deleted_lead_still_readable,
    "write_not_persisted": write_not_persisted,
    "other_ou_visible": other_ou_visible,
    "patch_ignores_null": patch_ignores_null,
}
