"""The in-process mock as a target: the only module of the gate that imports `mock_server`.

Used when no deployment is named (the CI gate, `make test`): each run gets a fresh app, the mock
completes deletions after a short delay so that "pending" is observable too, and the run may reset it
to the seed between scenarios.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from werkzeug.test import Client

from contracts.client import ApiClient, TokenNames
from mock_server.api.app import create_app
from mock_server.api.state import mock_state
from mock_server.config import MockConfig

MOCK_DELETION_DELAY = timedelta(milliseconds=300)
Wsgi = Callable[..., Any]


@dataclass(frozen=True)
class InProcessMock:
    """A WSGI app to test and how to put it back to its seed."""

    app: Wsgi
    reset: Callable[[], None]


def fresh_mock(spec_path: Path | None = None) -> InProcessMock:
    app = create_app(MockConfig(spec_path=spec_path, deletion_delay=MOCK_DELETION_DELAY, validate_responses=True))
    app.config["TESTING"] = True  # a response that breaks the spec fails the test with the violation
    return InProcessMock(app, mock_state(app).store.reset)


class WsgiClient(ApiClient):
    """Calls a WSGI app through Werkzeug's test client: no sockets, no cookies kept."""

    def __init__(self, app: Wsgi, token_names: TokenNames) -> None:
        super().__init__(token_names)
        self._client = Client(app, use_cookies=False)

    def _send(
        self, method: str, path: str, headers: dict[str, str], params: dict[str, Any], json_body: Any
    ) -> tuple[int, Mapping[str, str], str, str]:
        response = self._client.open(path, method=method, query_string=params, headers=headers, json=json_body)
        url = f"http://localhost{path}" + (f"?{urlencode(params)}" if params else "")
        return response.status_code, dict(response.headers.items()), response.get_data(as_text=True), url
