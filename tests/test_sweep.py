"""The sweep of earlier runs' ledgers on a living staging: it deletes a lead only with the proof a run
demands before its first write, keeps what it cannot settle, leaves living runs alone, and compacts.

Each test runs against the correct mock behind a fault proxy of our own (tests/live/faults.py), over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.client import HttpClient, TokenNames
from contracts.ownership import Ledger, Sweep, sweep, token_id
from contracts.state import FolderLock, earlier_runs
from contracts.throttle import Throttle
from contracts.transient import RetryPolicy
from tests.helpers import DEMO, DEMO_EMEA
from tests.live.faults import Faults, FaultyTarget, serve

pytestmark = pytest.mark.slow  # servers, processes or a browser: make test, not make test-fast

TOKEN, OTHER = DEMO, DEMO_EMEA  # the seed's demo tokens (tests/helpers.py)
RUN = "abc12345"
CANARY = "lvc-sweeper-canary@contracts.invalid"
LOOK_ALIKE = "lvc-loadgen-42@contracts.invalid"  # another tool's lead, named like ours


def _client(base_url: str) -> HttpClient:
    return HttpClient(
        base_url, 5.0, Throttle(1000, 10_000), TokenNames(), read_only=False, retries=RetryPolicy(attempts=1)
    )


def _ingest(client: HttpClient, alias: str, token: str = TOKEN) -> str:
    body = {"event_type": "page_view", "aliases": [{"alias_kind": "email", "raw_value": alias}]}
    assert client.request("POST", "/ingest", token=token, json_body=body).status == 202
    found = client.request("GET", "/lead/by-alias", token=token, params={"kind": "email", "value": alias})
    assert found.status == 200, found.describe()
    return str(found.json()["lead_id"])


def _exists(client: HttpClient, lead_id: str, token: str = TOKEN) -> bool:
    return client.request("GET", f"/lead/{lead_id}", token=token).status == 200


def _ledger(folder: Path, base_url: str, token: str = TOKEN) -> Ledger:
    return Ledger(folder / "runs" / RUN / "ledger.jsonl", base_url, token_id(token))


def _marker(ledger: Ledger, n: int, *, accepted: bool = True, lead_id: str | None = None) -> str:
    value = f"lvc-{RUN}-{n}@contracts.invalid"
    ledger.record("marker", run=RUN, kind="email", value=value)
    if accepted:
        ledger.record("accepted", run=RUN, value=value)
    if lead_id is not None:
        ledger.record("owned", run=RUN, lead_id=lead_id, kind="email", value=value)
    return value


def _sweep(client: HttpClient, state: Path, base_url: str, token: str = TOKEN, wait: float = 0.0) -> Sweep:
    with earlier_runs(state, base_url, token) as (ledgers, busy):
        done = sweep(client, token, ledgers, CANARY, wait)
    done.pending += busy
    return done


@pytest.fixture
def staging(request: pytest.FixtureRequest) -> Iterator[tuple[str, FaultyTarget, HttpClient]]:
    faults = getattr(request, "param", Faults())
    with serve(faults) as (base_url, target):
        yield base_url, target, _client(base_url)


@pytest.mark.parametrize("lie_about", ["", f"lvc-{RUN}"], ids=["every alias", "only the ledger's markers"])
def test_a_look_alike_lead_of_another_tool_survives_whatever_by_alias_answers(tmp_path: Path, lie_about: str) -> None:
    with serve(Faults()) as (base_url, target):
        client = _client(base_url)
        stranger = _ingest(client, LOOK_ALIKE)
        target.faults.by_alias_names = (lie_about, stranger)  # by-alias now names the stranger's lead
        ledger = _ledger(tmp_path, base_url)
        _marker(ledger, 1)
        _marker(ledger, 2, lead_id=stranger)  # even a ledger that names it is not proof
        done = _sweep(client, tmp_path, base_url)
        assert not done.removed, done
        assert _exists(client, stranger)
        assert not [r for r in target.requests if r.method == "DELETE"]
        assert len(done.left) == 2, done
        assert ledger.open_items(), "nothing was settled, so the ledger still holds both markers"


def test_a_killed_runs_lead_is_removed_with_the_proof_and_the_ledger_retired(
    tmp_path: Path, staging: tuple[str, FaultyTarget, HttpClient]
) -> None:
    base_url, _, client = staging
    ledger = _ledger(tmp_path, base_url)
    value = _marker(ledger, 1)  # killed after the ingest was accepted, before the lead was recorded
    lead_id = _ingest(client, value)
    for n in range(2, 60):  # a green run's refused writes: settled, never looked up
        _marker(ledger, n, accepted=False)
        ledger.record("rejected", run=RUN, value=f"lvc-{RUN}-{n}@contracts.invalid")
    done = _sweep(client, tmp_path, base_url)
    assert done.removed == [f"{lead_id} (run {RUN})"], done
    assert not done.left
    assert not done.pending
    assert not _exists(client, lead_id)
    assert not (tmp_path / "runs" / RUN).exists(), "a ledger with nothing open is retired, folder and all"


def test_a_marker_is_pending_not_gone_while_its_queued_ingest_has_not_landed(tmp_path: Path) -> None:
    with serve(Faults(async_ingest=1.5)) as (base_url, _):
        client = _client(base_url)
        ledger = _ledger(tmp_path, base_url)
        value = _marker(ledger, 1)
        body = {"event_type": "page_view", "aliases": [{"alias_kind": "email", "raw_value": value}]}
        assert client.request("POST", "/ingest", token=TOKEN, json_body=body).status == 202
        early = _sweep(client, tmp_path, base_url)  # before the queue has applied it
        assert not early.removed
        assert len(early.pending) == 1, early
        assert "accepted" in early.pending[0]
        assert [item.value for item in ledger.open_items()] == [value], "a pending marker is not forgotten"
        later = _sweep(client, tmp_path, base_url, wait=10)  # `cleanup` awaits it
        assert len(later.removed) == 1, later
        assert not ledger.open_items()


def test_a_token_that_cannot_see_the_markers_ou_leaves_them_pending(
    tmp_path: Path, staging: tuple[str, FaultyTarget, HttpClient]
) -> None:
    base_url, _, client = staging
    ledger = _ledger(tmp_path, base_url)
    lead_id = _ingest(client, _marker(ledger, 1))
    with_other = _sweep(client, tmp_path, base_url, token=OTHER)
    assert not with_other.removed
    assert with_other.left
    assert "another token" in with_other.left[0]
    assert _exists(client, lead_id)
    assert ledger.open_items(), "still in the ledger for the right token"
    with_right = _sweep(client, tmp_path, base_url)
    assert with_right.removed == [f"{lead_id} (run {RUN})"]


def test_a_living_runs_folder_is_left_to_it(tmp_path: Path, staging: tuple[str, FaultyTarget, HttpClient]) -> None:
    base_url, target, client = staging
    ledger = _ledger(tmp_path, base_url)
    lead_id = _ingest(client, _marker(ledger, 1))
    alive = FolderLock(ledger.path.parent)  # the run that wrote it is still running
    try:
        done = _sweep(client, tmp_path, base_url)
    finally:
        alive.release()
    assert not done.removed
    assert done.pending == [f"run {RUN} is in progress: its leads are left to it"]
    assert _exists(client, lead_id)
    assert not [r for r in target.requests if r.method == "DELETE"]


def test_compaction_keeps_only_what_is_open(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl", "http://x", token_id(TOKEN))
    for n in range(1, 200):
        _marker(ledger, n, accepted=n % 50 == 0)
        if n % 50:
            ledger.record("rejected", run=RUN, value=f"lvc-{RUN}-{n}@contracts.invalid")
    ledger.record("rejected", run=RUN, value=f"lvc-{RUN}-50@contracts.invalid")  # accepted elsewhere: stays
    before = ledger.path.stat().st_size
    open_before = ledger.open_items()
    ledger.compact()
    assert [item.value for item in ledger.open_items()] == [item.value for item in open_before]
    assert len(open_before) == 3
    assert ledger.path.stat().st_size < before / 20
