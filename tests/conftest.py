"""Fixtures of the offline suite: the compiled spec, and a fresh mock app per test (as in Flask's flaskr)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from leadvibe_contract.contract import Contract, load_contract
from mock_server.api.app import create_app
from mock_server.api.state import mock_state
from mock_server.config import MockConfig
from mock_server.leads.store import LeadStore
from tests.helpers import FakeClock
from tests.running import Proxy, start_proxy


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
