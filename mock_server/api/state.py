"""What one app instance serves from: its config, compiled spec, validator, store and token directory."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask

from leadvibe_contract.contract import Contract
from mock_server.api.auth import Directory
from mock_server.api.validation import RequestValidator
from mock_server.config import MockConfig
from mock_server.leads.store import LeadStore
from mock_server.tools.controls import Controls

EXTENSION = "leadvibe"


@dataclass(frozen=True)
class MockState:
    config: MockConfig
    spec: Contract
    validator: RequestValidator
    store: LeadStore
    directory: Directory
    controls: Controls
    # The text `spec` was loaded from, for /openapi.yaml: while an edit is refused, the file on disk is not
    # what the mock validates against.
    spec_source: bytes = b""


def mock_state(app: Flask) -> MockState:
    """The state of an app made by `create_app` (`app.extensions["leadvibe"]`)."""
    state: MockState = app.extensions[EXTENSION]
    return state
