"""Issue #22: record through the validating proxy, serve the recording with the mock, replay it as contracts.

The loop of the issue's "done when": a scripted client (list, open, edit, ingest, delete) through
`--proxy --record` in front of the mock; the recording loaded in a fresh mock (`--scenario DIR`); the
replay against it changes nothing, and against a mock that drops a field it names that exchange.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests

from contracts.client import HttpClient, TokenNames
from contracts.replay import judge, replay
from contracts.replay import main as replay_main
from contracts.throttle import Throttle
from contracts.transient import RetryPolicy
from leadvibe_contract.contract import load_contract
from leadvibe_contract.recorded import read_exchanges, read_manifest
from mock_server.api.app import create_app
from mock_server.cli import main as cli_main
from mock_server.config import MockConfig
from mock_server.leads.seed import load_seed
from mock_server.proxy.recording import Redactor
from tests.gate.variants import rewrite_leads
from tests.running import Proxy, running_mock, serving

pytestmark = pytest.mark.slow  # servers, processes or a browser: make test, not make test-fast

AUTH = {"Authorization": "Bearer kbn_pat_demo"}
SECRET_COOKIE = "session=s3cr3t-cookie-value"
EMAIL = "grace.hopper@navy.example.com"
OWNER = "Grace Hopper"
SCRIPT: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/leads?limit=5", {}),
    ("GET", "/lead/ld_123", {}),
    ("GET", "/lead/ld_123/aliases", {}),
    ("GET", "/events/ld_123?limit=5", {}),
    ("PUT", "/lead/ld_123", {"json": {"owner_name": OWNER, "metadata": {"first_name": "Grace", "title": "RADM"}}}),
    (
        "POST",
        "/ingest",
        {"json": {"event_type": "page_view", "aliases": [{"alias_kind": "email", "raw_value": EMAIL}]}},
    ),
    ("GET", f"/lead/by-alias?kind=email&value={EMAIL}", {}),
    ("DELETE", "/lead/ld_123", {}),
    ("GET", "/lead/ld_123", {}),
    ("GET", "/lead-deletions/ld_123", {}),
]


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """Serves a WSGI app with waitress in a thread; its base URL."""
    with ExitStack() as servers:
        yield lambda app: servers.enter_context(serving(app))


@pytest.fixture
def recording(tmp_path: Path, serve: Callable[[Any], str], proxies: Callable[..., Proxy]) -> Path:
    """The scripted client's session, recorded through the proxy in front of the mock."""
    proxy = proxies(serve(create_app(MockConfig())), "--record", str(tmp_path / "rec"))
    for method, path, kwargs in SCRIPT:
        headers = {**AUTH, "Cookie": SECRET_COOKIE, "X-Api-Key": "s3cr3t-key"}
        answer = requests.request(method, proxy.base + path, headers=headers, timeout=10, **kwargs)
        assert answer.status_code < 500, (method, path, answer.text)
    assert f"recorded {len(SCRIPT)} exchange(s)" in proxy.stop()
    return tmp_path / "rec"


def _client(base: str) -> HttpClient:
    return HttpClient(base, 10, Throttle(1000, 1000), TokenNames(), read_only=False, retries=RetryPolicy())


def test_a_recording_keeps_no_credential_and_no_personal_data(recording: Path) -> None:
    written = "".join(path.read_text(encoding="utf-8") for path in recording.iterdir())
    assert "s3cr3t" not in written
    exchanges = "".join(p.read_text(encoding="utf-8") for p in recording.glob("*.js*"))
    assert "kbn_pat_demo" not in exchanges.replace('"mock_token": "kbn_pat_demo"', "")
    for personal in (EMAIL, OWNER, "Grace"):
        assert personal not in written
    lookup = read_exchanges(recording)[6]
    ingest = read_exchanges(recording)[5]
    placeholder = ingest["body"]["aliases"][0]["raw_value"]
    assert placeholder.endswith("@example.invalid")
    assert f"value={placeholder.replace('@', '%40')}" in lookup["query"]
    assert read_manifest(recording)["personal_data"] == "redacted"
    redacted = [exchange["n"] for exchange in read_exchanges(recording) if exchange["request_redacted"]]
    assert redacted == [5, 6, 7]  # the PUT of a name, the ingest and the lookup of an email


def test_the_recorded_session_loads_and_replays_without_change_then_serves_statefully(recording: Path) -> None:
    manifest = read_manifest(recording)
    assert manifest["exchanges"] == len(SCRIPT)
    assert manifest["leads"] >= 5
    with running_mock(
        [sys.executable, "-m", "mock_server"], "--scenario", str(recording), "--quiet", "--no-reload"
    ) as base:
        health = requests.get(f"{base}/_mock/health", timeout=5).json()
        assert health["leads"] == manifest["leads"]
        results = replay(recording, _client(base), manifest["mock_token"], mock=True)
        assert [r.changes for r in results] == [[]] * len(SCRIPT)
        assert [r.status for r in results] == [r.recorded for r in results]
        # After the replay the recorded leads are served statefully, as any lead.
        listed = read_exchanges(recording)[0]["answer"]["leads"][-1]["lead_id"]
        put = requests.put(f"{base}/lead/{listed}", json={"owner_name": "Ada"}, headers=AUTH, timeout=5)
        assert put.status_code == 200
        assert requests.get(f"{base}/lead/{listed}", headers=AUTH, timeout=5).json()["owner_name"] == "Ada"


def test_a_replay_names_the_exchange_whose_answer_dropped_a_field(
    recording: Path, serve: Callable[[Any], str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(MockConfig(seed_path=recording / "seed.yaml"))
    base = serve(rewrite_leads(app, lambda lead: lead.pop("created_at", None)))
    code = replay_main(["--target", base, "--recording", str(recording), "--report", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert code == 1
    assert "CHANGED #2 GET /lead/ld_123: field /created_at (string) is missing" in out
    assert "CHANGED #1 GET /leads?limit=5: field /leads/*/created_at (string) is missing" in out
    assert "#3 GET" not in out  # an answer without a lead is unchanged


def test_against_a_deployment_writes_are_skipped_and_reads_judged(
    recording: Path, serve: Callable[[Any], str], tmp_path: Path
) -> None:
    """A target that is not the mock (no /_mock/health) gets the reads only, with the live gate's token."""
    app = create_app(MockConfig(seed_path=recording / "seed.yaml", admin_endpoints=False))
    results = replay(recording, _client(serve(app)), "kbn_pat_demo", mock=False)
    skipped = [(r.n, r.skipped) for r in results if r.skipped]
    assert [n for n, _ in skipped] == [5, 6, 7, 8]  # PUT, ingest, the lookup of a redacted email, DELETE
    assert "redacted personal data" in dict(skipped)[7]
    # Without the writes, ld_123 is not deleted: the reads after the delete are named.
    assert [(r.n, r.changes) for r in results if r.changes] == [
        (9, ["status 404 became 200"]),
        (10, ["status 200 became 404"]),
    ]


def test_redaction_is_consistent_and_can_be_switched_off() -> None:
    redact = Redactor()
    first = redact.document({"metadata": {"email": "a@b.example", "company": "Acme"}, "owner_name": "Ann Lee"})
    assert first == {"metadata": {"email": "person1@example.invalid", "company": "Acme"}, "owner_name": "Person 2"}
    assert redact.query("kind=email&value=a%40b.example") == "kind=email&value=person1%40example.invalid"
    assert redact.document({"kind": "phone", "value": "+33 6 12"}) == {"kind": "phone", "value": "+15550000003"}
    assert Redactor(keep=True).document({"email": "a@b.example"}) == {"email": "a@b.example"}
    assert redact.query("limit=5&event_type=page%7Eview") == "limit=5&event_type=page%7Eview"  # nothing personal


def test_a_scenario_that_is_neither_a_name_nor_a_recording_stops_the_mock_with_a_message(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli_main(["--scenario", str(tmp_path)])
    assert "not one of demo, empty" in str(stopped.value)
    assert "holds no seed.yaml: not a recording" in str(stopped.value)


def test_keys_of_free_form_maps_are_data_and_a_null_is_a_value() -> None:
    contract = load_contract()
    lead = {
        "lead_id": "ld_1", "org_id": "org_456", "score": 3, "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z", "last_event_at": None, "owner_name": "A", "metadata": {"k": 1},
        "engagement_scores": {"ruleset_default": 3}, "profile_scores": {}, "ruleset_id": "ruleset_default",
    }  # fmt: skip
    recorded = {"status": 200, "answer": {"leads": [lead], "total": 1, "page": 1, "limit": 25}}
    now = {**lead, "metadata": {}, "engagement_scores": {}, "last_event_at": "2026-01-02T00:00:00Z", "owner_name": None}
    answer = json.dumps({"leads": [now], "total": 1, "page": 1, "limit": 25})
    assert judge(contract, contract.operations["listLeads"], recorded, 200, answer) == []
    del now["score"]
    changes = judge(contract, contract.operations["listLeads"], recorded, 200, json.dumps({"leads": [now]}))
    assert "field /leads/*/score (number) is missing" in changes
    assert "field /total (number) is missing" in changes


def test_hostile_answers_pass_through_and_still_make_a_loadable_recording(
    tmp_path: Path, serve: Callable[[Any], str], proxies: Callable[..., Proxy]
) -> None:
    """Too deeply nested to parse, malformed aliases, ids the seed cannot hold: passed on, left out of the seed."""
    answers = {
        "/leads": b"[" * 100_000 + b"]" * 100_000,
        "/lead/ld_1/aliases": json.dumps({"aliases": [1, {"id": "a"}, None]}).encode(),
        "/lead/ld_1": json.dumps({"lead_id": "ld 1", "org_id": "org_456", "created_at": "x"}).encode(),
    }

    def upstream(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [answers[environ["PATH_INFO"]]]

    proxy = proxies(serve(upstream), "--record", str(tmp_path / "rec"))
    for path, body in answers.items():
        answer = requests.get(proxy.base + path, headers=AUTH, timeout=30)
        assert (answer.status_code, answer.content) == (200, body)
    assert "recorded 2 exchange(s) and 0 lead(s)" in proxy.stop()  # the unparseable one is left out, logged
    assert load_seed(tmp_path / "rec" / "seed.yaml", load_contract()).leads == ()


def test_a_replay_without_a_recording_or_a_target_says_so(
    recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEADVIBE_TOKEN", "kbn_pat_demo")
    monkeypatch.setenv("LEADVIBE_RETRIES", "1")
    assert replay_main(["--target", "http://127.0.0.1:9", "--recording", str(tmp_path / "none")]) == 2
    assert replay_main(["--target", "http://127.0.0.1:9", "--recording", str(recording)]) == 3
    err = capsys.readouterr().err
    assert "recording.json" in err
    assert "http://127.0.0.1:9 did not answer" in err
