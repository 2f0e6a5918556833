"""One conformance run: the target, its client, the Schemathesis schema, and the live-safety guard.

Built once per process from the environment (`current_run()`), so that the test modules can declare
their Schemathesis tests at import time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import schemathesis
from flask import Flask
from schemathesis import BaseSchema

from contracts import checks  # noqa: F401 -- registers the custom checks
from contracts.client import ApiClient, HttpClient, TokenNames, WsgiClient, throttle
from contracts.safety import LiveSafety, OwnedLeads
from contracts.target import Target, target_from_env
from mock_server.app import create_app
from mock_server.config import MockConfig
from mock_server.spec import ApiSpec, default_spec_path, load_spec
from mock_server.state import mock_state

# The in-process mock completes deletions after this delay, so that "pending" is observable too.
MOCK_DELETION_DELAY = timedelta(milliseconds=300)
# Built-in defaults of positive_data_acceptance, plus 400 where the spec has rules between parameters
# (checked precisely by the custom check `cross_parameter_rules`).
POSITIVE_STATUSES_WITH_CROSS_RULES = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]


def _schema_config(target: Target) -> dict[str, Any]:
    config: dict[str, Any] = {
        "generation": {"max-examples": target.max_examples, "deterministic": True},
        "analysis": {"constants": {"enabled": False}},
        "operations": [
            # Deletion status legitimately answers 200 after the DELETE of its lead.
            {"include-operation-id": "getLeadDeletionStatus", "checks": {"use_after_free": {"enabled": False}}},
            *(
                {
                    "include-operation-id": operation_id,
                    "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES_WITH_CROSS_RULES}},
                }
                for operation_id in ("listLeads", "getScoreHistory")
            ),
        ],
    }
    if target.live and not target.allow_writes:
        # Read-only: only GET operations, and not even a probe with another method (PUT, DELETE ...).
        # (In config: Schemathesis 4.32.5 ignores `schema.include()` once per-operation settings exist.)
        config["operations"].append({"exclude-method": "GET", "enabled": False})
        config["phases"] = {"coverage": {"unexpected-methods": []}}
    return config


def build_schema(target: Target, app: Flask | None) -> BaseSchema:
    """The spec as Schemathesis tests it against this target (auth from config, never from hooks)."""
    config = schemathesis.Config.from_dict(_schema_config(target))
    schema = schemathesis.openapi.from_path(default_spec_path(), config=config)
    schema.config.update(headers={"Authorization": f"Bearer {target.token}"})
    if target.live:
        assert target.base_url is not None
        schema.config.update(base_url=target.base_url, request_timeout=target.request_timeout)
    else:
        schema.app = app
    return schema


@dataclass
class Run:
    target: Target
    spec: ApiSpec
    app: Flask | None
    client: ApiClient
    owned: OwnedLeads | None
    safety: LiveSafety
    schema: BaseSchema
    throttle_acquire: Callable[[], None] | None = None

    def reset(self) -> None:
        """Back to the seed: the in-process mock only; a live deployment is never reset."""
        if self.app is not None:
            mock_state(self.app).store.reset()

    @property
    def other_tokens(self) -> tuple[str, ...]:
        return self.target.other_tokens


def build_run(target: Target) -> Run:
    spec = load_spec()
    names = TokenNames(
        {target.token: "LEADVIBE_TOKEN", **dict.fromkeys(target.other_tokens, "LEADVIBE_OTHER_OU_TOKEN")}
    )
    app: Flask | None = None
    acquire = None
    client: ApiClient
    if target.live:
        assert target.base_url is not None
        gate = throttle(target.rate_limit, target.max_requests)
        acquire = gate.acquire
        client = HttpClient(target.base_url, target.request_timeout, gate, names, read_only=not target.allow_writes)
    else:
        app = create_app(MockConfig(deletion_delay=MOCK_DELETION_DELAY))
        client = WsgiClient(app, names)
    owned = OwnedLeads(client, target.token, target.run_id, target.wait_timeout) if target.allow_writes else None
    safety = LiveSafety(spec, owned if target.live else None, read_only=target.live and not target.allow_writes)
    return Run(target, spec, app, client, owned, safety, build_schema(target, app), acquire)


@functools.cache
def current_run() -> Run:
    run = build_run(target_from_env())
    from contracts import hooks

    hooks.install(run.safety, run.throttle_acquire)
    return run
