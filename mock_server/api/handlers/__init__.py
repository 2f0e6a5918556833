"""The operations' handlers: thin functions from a validated call to a reply, one module per area.

A handler is registered under the operationId it serves; the app binds each one to the path and method
openapi.yaml gives that operation, and refuses to start when the two sets differ.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mock_server.api.auth import Directory, Principal, Scope
from mock_server.api.validation import ValidRequest
from mock_server.leads.store import LeadStore


@dataclass(frozen=True)
class Call:
    """Everything a handler may use: who calls, in which scope, with which validated input."""

    principal: Principal
    scope: Scope
    request: ValidRequest
    store: LeadStore
    directory: Directory


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Call], Reply]
HANDLERS: dict[str, Handler] = {}


def handles(operation_id: str) -> Callable[[Handler], Handler]:
    """Register a handler for an operationId of openapi.yaml."""

    def register(handler: Handler) -> Handler:
        if operation_id in HANDLERS:
            raise RuntimeError(f"two handlers for {operation_id}")
        HANDLERS[operation_id] = handler
        return handler

    return register


def all_handlers() -> Mapping[str, Handler]:
    """Every handler, after importing the modules that register them."""
    from mock_server.api.handlers import ingest, leads, org_units, scores  # noqa: F401

    return HANDLERS
