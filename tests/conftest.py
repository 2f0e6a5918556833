"""Fixtures of the offline suite: the compiled spec, and a fresh mock app per test (as in Flask's flaskr)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from leadvibe_contract.contract import Contract, load_contract
from mock_server.app import create_app
from mock_server.config import MockConfig
from mock_server.state import mock_state
from mock_server.store import LeadStore
from tests.running import Proxy, start_proxy

DEMO = "kbn_pat_demo"
DEMO_EMEA = "kbn_pat_demo_emea"
OTHER_ORG = "kbn_pat_other"


class FakeClock:
    """A clock the tests move by hand; starts at a fixed instant so relative seed times are stable."""

    def __init__(self, start: datetime = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="session")
def spec() -> Contract:
    return load_contract()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(clock: FakeClock) -> MockConfig:
    """Test apps check every response against openapi.yaml, and complete deletions after 5 s of fake time."""
    return MockConfig(clock=clock, validate_responses=True, deletion_delay=timedelta(seconds=5))


@pytest.fixture
def app(config: MockConfig) -> Flask:
    app = create_app(config)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def store(app: Flask) -> LeadStore:
    return mock_state(app).store


def problem(response: Any) -> dict[str, Any]:
    """The problem body of an error response, after checking it is one."""
    assert response.mimetype == "application/problem+json", response.data
    body: dict[str, Any] = response.get_json()
    assert body["status"] == response.status_code
    return body


@pytest.fixture
def proxies(tmp_path: Path) -> Iterator[Callable[..., Proxy]]:
    """Starts validating proxies (`leadvibe-mock --proxy`); each still running is stopped as by Ctrl-C."""
    started: list[Proxy] = []

    def start(upstream: str, *extra: str) -> Proxy:
        proxy = start_proxy(upstream, tmp_path, *extra)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        if proxy.process.poll() is None:
            proxy.stop()
