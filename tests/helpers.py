"""What the tests share in-process: the seed's demo tokens, a hand-moved clock, and small request helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from leadvibe_contract.examples import ExampleRequest

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


def problem(response: Any) -> dict[str, Any]:
    """The problem body of an error response, after checking it is one."""
    assert response.mimetype == "application/problem+json", response.data
    body: dict[str, Any] = response.get_json()
    assert body["status"] == response.status_code
    return body


def send(client: FlaskClient, request: ExampleRequest, headers: dict[str, str], method: str | None = None) -> Any:
    return client.open(
        request.path,
        method=method or request.method,
        query_string=dict(request.query),
        json=request.body,
        headers=headers,
    )
