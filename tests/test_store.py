"""The in-memory store alone, without Flask: scoping, writes, deletions, ingest, lists, scores, threads."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadvibe_contract.contract import Contract, default_spec_path, load_contract
from leadvibe_contract.windows import window
from mock_server.api.auth import Scope
from mock_server.leads.errors import (
    AliasNotFound,
    DeletionNotFound,
    DomainError,
    LeadNotFound,
    LimitReached,
    MetadataFull,
)
from mock_server.leads.raw_json import parsed
from mock_server.leads.seed import DEFAULT_SEED, SeedError, load_seed
from mock_server.leads.store import IngestRequest, LeadQuery, LeadStore, StoreLimits
from mock_server.leads.timeutil import parse_timestamp
from mock_server.limits import LIMITS
from tests.helpers import FakeClock

DEFAULT = Scope("org_456", "unit_default")
EMEA = Scope("org_456", "unit_emea")
OTHER_ORG = Scope("org_789", "unit_default")


def make_store(spec: Contract, clock: FakeClock, delay: float = 5.0) -> LeadStore:
    seed = load_seed(DEFAULT_SEED, spec)
    return LeadStore(seed, StoreLimits.from_spec(spec), clock=clock, deletion_delay=timedelta(seconds=delay))


@pytest.fixture
def lead_store(spec: Contract, clock: FakeClock) -> LeadStore:
    return make_store(spec, clock)


def test_the_seed_pages_lead_is_served_exactly_as_printed(lead_store: LeadStore) -> None:
    # parsed: lead metadata is kept as JSON text, written into answers as it is (`store.kept_metadata`)
    assert parsed(lead_store.get_lead(DEFAULT, "ld_123")) == {
        "lead_id": "ld_123",
        "org_id": "org_456",
        "score": 75,
        "last_event_at": "2025-01-15T10:30:00Z",
        "created_at": "2025-01-01T08:00:00Z",
        "updated_at": "2025-01-15T10:30:00Z",
        "owner_name": "Jane Smith",
        "metadata": {"first_name": "Alex", "last_name": "Johnson", "company": "Acme Corp", "title": "VP Marketing"},
    }


@pytest.mark.parametrize("scope", [EMEA, OTHER_ORG])
def test_a_lead_of_another_ou_or_org_is_not_found_for_every_operation(lead_store: LeadStore, scope: Scope) -> None:
    calls: list[Callable[[], object]] = [
        lambda: lead_store.get_lead(scope, "ld_123"),
        lambda: lead_store.update_lead(scope, "ld_123", {"owner_name": "Mallory"}),
        lambda: lead_store.patch_metadata(scope, "ld_123", {"x": 1}),
        lambda: lead_store.delete_lead(scope, "ld_123"),
        lambda: lead_store.list_aliases(scope, "ld_123"),
        lambda: lead_store.score_explain(scope, "ld_123", 24),
        lambda: lead_store.score_history(scope, "ld_123", datetime(2025, 1, 1, tzinfo=UTC), lead_store.now(), None),
        lambda: lead_store.ingest(scope, IngestRequest("page_view", lead_id="ld_123")),
        lambda: lead_store.find_by_alias(scope, "email", "alex@example.com"),
    ]
    for call in calls:
        with pytest.raises((LeadNotFound, AliasNotFound)):
            call()
    assert lead_store.get_lead(DEFAULT, "ld_123")["owner_name"] == "Jane Smith"
    listed = lead_store.list_leads(scope, LeadQuery(limit=100))
    assert "ld_123" not in {lead["lead_id"] for lead in listed["leads"]}


def test_update_writes_the_core_fields_and_advances_updated_at(lead_store: LeadStore, clock: FakeClock) -> None:
    before = lead_store.get_lead(DEFAULT, "ld_123")
    first = lead_store.update_lead(DEFAULT, "ld_123", {"owner_name": None})
    second = lead_store.update_lead(DEFAULT, "ld_123", {"metadata": {"company": "Globex"}})  # same clock instant
    assert first["owner_name"] is None
    assert second["owner_name"] is None  # left out: kept
    assert parsed(second["metadata"]) == {"company": "Globex"}  # sent: replaced whole
    stamps = [parse_timestamp(lead["updated_at"]) for lead in (before, first, second)]
    assert stamps[0] < stamps[1] < stamps[2]
    assert second["created_at"] == before["created_at"]
    assert lead_store.get_lead(DEFAULT, "ld_123") == second


def test_patch_merges_and_removes_keys_sent_as_null(lead_store: LeadStore) -> None:
    patched = lead_store.patch_metadata(DEFAULT, "ld_123", {"title": "CMO", "company": None, "industry": "Software"})
    assert parsed(patched["metadata"]) == {
        "first_name": "Alex",
        "last_name": "Johnson",
        "title": "CMO",
        "industry": "Software",
    }


def test_a_patch_beyond_the_key_limit_is_a_conflict_that_changes_nothing(lead_store: LeadStore) -> None:
    limit = LIMITS.max_metadata_keys  # the mock's own limit (the docs give none)
    lead_store.update_lead(DEFAULT, "ld_123", {"metadata": {f"k{i}": i for i in range(limit - 2)}})
    before = lead_store.get_lead(DEFAULT, "ld_123")
    with pytest.raises(MetadataFull, match=f"at most {limit}"):
        lead_store.patch_metadata(DEFAULT, "ld_123", {"a1": 1, "a2": 2, "a3": 3})
    assert lead_store.get_lead(DEFAULT, "ld_123") == before
    patched = parsed(lead_store.patch_metadata(DEFAULT, "ld_123", {"a1": 1, "a2": 2, "k0": None}))
    assert len(patched["metadata"]) == limit - 1


def test_deletion_hides_the_lead_at_once_and_completes_after_the_delay(lead_store: LeadStore, clock: FakeClock) -> None:
    assert lead_store.delete_lead(DEFAULT, "ld_123") == {"message": "Lead deletion initiated", "lead_id": "ld_123"}
    with pytest.raises(DomainError):
        lead_store.get_lead(DEFAULT, "ld_123")
    with pytest.raises(DomainError):
        lead_store.delete_lead(DEFAULT, "ld_123")
    pending = lead_store.deletion_status(DEFAULT, "ld_123")
    assert (pending["status"], pending["completed_at"]) == ("pending", None)
    clock.advance(seconds=5)
    done = lead_store.deletion_status(DEFAULT, "ld_123")
    assert done["status"] == "completed"
    assert parse_timestamp(done["completed_at"]) - parse_timestamp(done["requested_at"]) == timedelta(seconds=5)
    with pytest.raises(DomainError):  # the deletion belongs to the lead's OU
        lead_store.deletion_status(EMEA, "ld_123")
    with pytest.raises(DomainError):  # the aliases went with the lead
        lead_store.find_by_alias(DEFAULT, "email", "alex@example.com")
    assert "ld_123" not in {lead["lead_id"] for lead in lead_store.list_leads(DEFAULT, LeadQuery(limit=100))["leads"]}


def test_a_deletion_that_cannot_purge_ends_failed_and_the_lead_stays_gone(
    lead_store: LeadStore, clock: FakeClock
) -> None:
    lead_store.delete_lead(DEFAULT, "ld_legal_hold")
    clock.advance(seconds=6)
    assert lead_store.deletion_status(DEFAULT, "ld_legal_hold")["status"] == "failed"
    with pytest.raises(DomainError):
        lead_store.get_lead(DEFAULT, "ld_legal_hold")


def test_no_deletion_status_without_a_deletion(lead_store: LeadStore) -> None:
    with pytest.raises(DeletionNotFound):
        lead_store.deletion_status(DEFAULT, "ld_123")


def test_ingest_with_a_new_alias_creates_a_lead_that_by_alias_finds(lead_store: LeadStore, clock: FakeClock) -> None:
    accepted = lead_store.ingest(
        DEFAULT,
        IngestRequest("demo_request", aliases=(("email", "new@lead.example"), ("cookie", "c_new"))),
    )
    lead_id = accepted["lead_id"]
    found = lead_store.find_by_alias(DEFAULT, "cookie", "c_new")
    assert found == {"lead_id": lead_id, "email": "new@lead.example", "metadata": {}}
    lead = lead_store.get_lead(DEFAULT, lead_id)
    assert lead["score"] == 25  # rl_demo_request
    assert lead["last_event_at"] == lead["created_at"] == "2026-11-26T12:00:00.000Z"
    assert [alias["kind"] for alias in lead_store.list_aliases(DEFAULT, lead_id)["aliases"]] == ["email", "cookie"]
    with pytest.raises(DomainError):
        lead_store.find_by_alias(EMEA, "cookie", "c_new")  # aliases are per OU


def test_ingest_attributes_to_the_existing_lead_and_adds_new_aliases(lead_store: LeadStore, clock: FakeClock) -> None:
    clock.advance(hours=1)
    accepted = lead_store.ingest(
        DEFAULT,
        IngestRequest(
            "page_view",
            aliases=(("social", "@alexj"), ("email", "alex@example.com")),
            metadata={"path": "/pricing/enterprise"},
        ),
    )
    assert accepted["lead_id"] == "ld_123"
    lead = lead_store.get_lead(DEFAULT, "ld_123")
    assert lead["score"] == 85  # rl_pricing_view: filtered rules win over the plain page_view rule
    assert lead["last_event_at"] == lead["updated_at"] == "2026-11-26T13:00:00.000Z"
    assert lead_store.find_by_alias(DEFAULT, "social", "@alexj")["lead_id"] == "ld_123"


def test_back_dated_and_future_events(lead_store: LeadStore, clock: FakeClock) -> None:
    lead_store.ingest(DEFAULT, IngestRequest("DECAY", lead_id="ld_123", timestamp=datetime(2024, 12, 31, tzinfo=UTC)))
    lead = lead_store.get_lead(DEFAULT, "ld_123")
    # Replayed in time order: the decay came first, clamped at 0, so the score is unchanged.
    assert lead["score"] == 75
    assert lead["last_event_at"] == "2025-01-15T10:30:00Z"
    lead_store.ingest(
        DEFAULT, IngestRequest("email_click", lead_id="ld_123", timestamp=datetime(2999, 1, 1, tzinfo=UTC))
    )
    assert lead_store.get_lead(DEFAULT, "ld_123")["last_event_at"] == "2026-11-26T12:00:00.000Z"


def test_ingest_by_id_in_another_ou_is_not_found(lead_store: LeadStore) -> None:
    with pytest.raises(LeadNotFound):
        lead_store.ingest(EMEA, IngestRequest("page_view", lead_id="ld_123"))
    assert lead_store.get_lead(DEFAULT, "ld_123")["score"] == 75


def _all_leads(store: LeadStore, scope: Scope) -> list[dict[str, object]]:
    leads: list[dict[str, object]] = []
    page = 1
    while True:
        body = store.list_leads(scope, LeadQuery(page=page, limit=100))
        leads += body["leads"]
        if len(leads) >= body["total"]:
            return leads
        page += 1


def test_a_listed_lead_shows_every_write_at_once(lead_store: LeadStore, clock: FakeClock) -> None:
    """Lists reuse a lead's listed form until it changes (`LeadRecord.listed`): each write shows at once."""

    def listed() -> dict[str, object]:
        return next(lead for lead in _all_leads(lead_store, DEFAULT) if lead["lead_id"] == "ld_123")

    before = listed()
    lead_store.update_lead(DEFAULT, "ld_123", {"owner_name": "Kim Lee"})
    assert listed()["owner_name"] == "Kim Lee"
    lead_store.patch_metadata(DEFAULT, "ld_123", {"title": "CMO"})
    assert parsed(listed()["metadata"])["title"] == "CMO"
    lead_store.set_owner(DEFAULT, "ld_123", None, None)
    assert listed()["owner_name"] is None
    clock.advance(minutes=1)
    lead_store.ingest(DEFAULT, IngestRequest(event_type="demo_request", lead_id="ld_123"))
    after = listed()
    assert after["last_event_at"] != before["last_event_at"]
    assert after["score"] != before["score"]
    assert after["updated_at"] != before["updated_at"]


def test_the_seed_has_enough_leads_in_every_ou(lead_store: LeadStore) -> None:
    counts = {scope: len(_all_leads(lead_store, scope)) for scope in (DEFAULT, EMEA, OTHER_ORG)}
    assert counts[DEFAULT] + counts[EMEA] >= 50
    assert min(counts.values()) >= 5
    for scope in (DEFAULT, EMEA, OTHER_ORG):
        for lead in _all_leads(lead_store, scope)[:10]:
            assert lead_store.list_aliases(scope, str(lead["lead_id"]))["aliases"]
            assert lead["last_event_at"] is not None


LIST_LEADS = load_contract().operations["listLeads"]


@pytest.fixture(scope="module")
def read_only_store(spec: Contract) -> LeadStore:
    """One store for read-only properties: building one per example would dominate the run time."""
    return make_store(spec, FakeClock())


def _expected_page(store: LeadStore, query: LeadQuery) -> tuple[int, list[dict[str, object]]]:
    """The brute-force answer: filter every lead of the OU, sort by score then id, slice the page."""
    now = store.now()
    active = window(query.last_active, now) if query.last_active else None
    created_in = window(query.created_range, now) if query.created_range else None

    def keep(lead: dict[str, object]) -> bool:
        score = int(str(lead["score"]))
        last = parse_timestamp(str(lead["last_event_at"]))
        created = parse_timestamp(str(lead["created_at"]))
        last_type = store._leads[str(lead["lead_id"])].events[-1].event_type
        return all(
            [
                query.min_score is None or score >= query.min_score,
                query.max_score is None or score <= query.max_score,
                query.event_type is None or last_type == query.event_type,
                active is None or last in active,
                created_in is None or created in created_in,
            ]
        )

    matching = sorted(
        (lead for lead in _all_leads(store, DEFAULT) if keep(lead)),
        key=lambda lead: (-int(str(lead["score"])), str(lead["lead_id"])),
    )
    return len(matching), matching[(query.page - 1) * query.limit : query.page * query.limit]


@settings(max_examples=80, deadline=None)
@given(
    query=st.builds(
        LeadQuery,
        page=st.integers(1, 6),
        limit=st.integers(1, 30),
        min_score=st.none() | st.integers(0, 300),
        max_score=st.none() | st.integers(0, 300),
        event_type=st.none() | st.sampled_from(["page_view", "email_click", "demo_request", "nope"]),
        last_active=st.none() | st.sampled_from(LIST_LEADS.parameter("last_active").enum),
        created_range=st.none() | st.sampled_from(LIST_LEADS.parameter("range").enum),
    )
)
def test_list_pages_equal_a_brute_force_filter_and_sort(read_only_store: LeadStore, query: LeadQuery) -> None:
    total, page = _expected_page(read_only_store, query)
    body = read_only_store.list_leads(DEFAULT, query)
    assert body["total"] == total
    assert body["leads"] == page


def test_score_explain_reports_drivers_decay_inorganic_and_reset(lead_store: LeadStore) -> None:
    bot = lead_store.score_explain(DEFAULT, "ld_bot_burst", 24)
    assert bot["inorganic_count"] == 7
    assert bot["top_drivers"] == [
        {"rule_id": "rl_page_view", "event_type": "page_view", "count": 1, "weight": 5, "total": 5}
    ]
    reset = lead_store.score_explain(DEFAULT, "ld_score_reset", 24 * 7)
    assert reset["reset_excluded_count"] == 1  # the form_submit 5 days ago precedes the reset 3 days ago
    assert reset["score_reset_at"] == "2026-11-23T12:00:00Z"
    assert [d["rule_id"] for d in reset["top_drivers"]] == ["rl_pricing_view", "rl_email_click"]
    assert lead_store.get_lead(DEFAULT, "ld_score_reset")["score"] == 15
    # The snapshot sums the weights of the active rulesets: demo_request is 25 (engagement) + 20 (profile fit).
    assert reset["snapshot"][0] == {"event_type": "demo_request", "weight": 45}
    assert lead_store.score_explain(DEFAULT, "ld_123", 24)["top_drivers"] == []  # its events are old


def test_score_history_is_hourly_per_ruleset_within_the_retention(lead_store: LeadStore, clock: FakeClock) -> None:
    start = clock.now - timedelta(days=2)
    history = lead_store.score_history(DEFAULT, "ld_score_reset", start, clock.now, "ruleset_default")
    snapshots = history["snapshots"]
    assert history["count"] == len(snapshots) == 49
    assert snapshots[0]["snapshot_at"] == "2026-11-24T12:00:00Z"
    assert {snapshot["ruleset_id"] for snapshot in snapshots} == {"ruleset_default"}
    scores = [snapshot["score"] for snapshot in snapshots]
    assert (scores[0], scores[-1]) == (10, 15)  # a pricing view after the reset; then an email click
    both = lead_store.score_history(DEFAULT, "ld_score_reset", start, clock.now, None)
    assert both["count"] == 49 * 3  # every ruleset: two engagement rulesets and one profile ruleset
    old = lead_store.score_history(DEFAULT, "ld_123", datetime(2025, 1, 1, tzinfo=UTC), clock.now, None)
    first = parse_timestamp(old["snapshots"][0]["snapshot_at"])
    assert first >= clock.now - timedelta(days=91)  # 90-day retention
    assert {snapshot["score"] for snapshot in old["snapshots"] if snapshot["ruleset_id"] == "ruleset_default"} == {75}
    assert lead_store.score_history(DEFAULT, "ld_123", start, clock.now, "ruleset_nope")["count"] == 0


def test_reset_restores_the_seed(lead_store: LeadStore) -> None:
    lead_store.delete_lead(DEFAULT, "ld_123")
    lead_store.ingest(DEFAULT, IngestRequest("page_view", aliases=(("email", "x@y.example"),)))
    lead_store.reset()
    assert lead_store.get_lead(DEFAULT, "ld_123")["score"] == 75
    with pytest.raises(DomainError):
        lead_store.find_by_alias(DEFAULT, "email", "x@y.example")
    with pytest.raises(DomainError):
        lead_store.deletion_status(DEFAULT, "ld_123")


def test_concurrent_writes_lose_nothing_and_keep_the_indexes_consistent(lead_store: LeadStore) -> None:
    threads, per_thread = 8, 20  # ld_123 stays under x-max-events-per-lead (200), so no event is dropped
    barrier = threading.Barrier(threads)
    created: list[str] = []
    lock = threading.Lock()

    def work(worker: int) -> None:
        barrier.wait()
        for index in range(per_thread):
            lead_store.ingest(DEFAULT, IngestRequest("email_open", lead_id="ld_123"))
            accepted = lead_store.ingest(
                DEFAULT, IngestRequest("email_open", aliases=(("cookie", f"c_{worker}_{index}"),))
            )
            lead_store.patch_metadata(DEFAULT, accepted["lead_id"], {f"w{worker}": index})
            lead_store.list_leads(DEFAULT, LeadQuery(min_score=1))
            with lock:
                created.append(accepted["lead_id"])

    pool = [threading.Thread(target=work, args=(worker,)) for worker in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert lead_store.get_lead(DEFAULT, "ld_123")["score"] == 75 + threads * per_thread  # rl_email_open: +1 each
    assert len(set(created)) == threads * per_thread
    listed = {str(lead["lead_id"]) for lead in _all_leads(lead_store, DEFAULT)}
    assert set(created) <= listed
    for lead_id in created[:50]:
        assert lead_store.get_lead(DEFAULT, lead_id)["metadata"]
    ranked = list(lead_store._ranking(DEFAULT))
    assert ranked == sorted(ranked)
    assert len(ranked) == len(listed)


def test_a_bad_seed_file_fails_with_a_message_naming_the_entry(spec: Contract, tmp_path: object) -> None:
    from pathlib import Path

    from mock_server.leads.seed import SeedError

    path = Path(str(tmp_path)) / "seed.yaml"
    text = DEFAULT_SEED.read_text(encoding="utf-8").replace("owner_name: Jane Smith", "owner_name: ''", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SeedError, match=r"at leads/0/owner_name \(ld_123\): "):
        load_seed(path, spec)
    path.write_text("orgs: []\n", encoding="utf-8")
    with pytest.raises(SeedError, match="required"):
        load_seed(path, spec)


def test_a_field_the_spec_adds_to_lead_is_a_field_of_the_seed(tmp_path: Path) -> None:
    """The seed's lead is the spec's Lead: a new field needs an edit of openapi.yaml only, and is checked by it."""
    document = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    document["components"]["schemas"]["Lead"]["properties"]["stage"] = {"type": "string", "enum": ["mql", "sql"]}
    spec_path = tmp_path / "openapi.yaml"
    spec_path.write_text(yaml.safe_dump(document), encoding="utf-8")
    extended = load_contract(spec_path)
    seed = DEFAULT_SEED.read_text(encoding="utf-8").replace(
        "owner_name: Jane Smith", "owner_name: Jane Smith\n  stage: mql", 1
    )
    path = tmp_path / "seed.yaml"
    path.write_text(seed, encoding="utf-8")
    load_seed(path, extended)  # accepted under the extended spec ...
    with pytest.raises(SeedError, match="stage"):
        load_seed(path, load_contract())  # ... and refused, naming it, under the spec that lacks it
    path.write_text(seed.replace("stage: mql", "stage: lead"), encoding="utf-8")
    with pytest.raises(SeedError, match=r"at leads/0/stage \(ld_123\): "):
        load_seed(path, extended)


def test_a_seeded_owner_id_is_the_leads_owner(tmp_path: Path, spec: Contract) -> None:
    text = DEFAULT_SEED.read_text(encoding="utf-8").replace(
        "owner_name: Jane Smith", "owner_name: Jane Smith\n  owner_id: usr_jane", 1
    )
    path = tmp_path / "seed.yaml"
    path.write_text(text, encoding="utf-8")
    lead = next(lead for lead in load_seed(path, spec).leads if lead.lead_id == "ld_123")
    assert lead.owner_id == "usr_jane"
    path.write_text(text.replace("owner_id: usr_jane", "owner_id: ''"), encoding="utf-8")
    with pytest.raises(SeedError, match="owner_id"):
        load_seed(path, spec)


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("ingest"), st.sampled_from(["page_view", "email_click", "demo_request"]), st.integers(0, 6)),
        st.tuples(st.just("back-dated"), st.integers(0, 30), st.integers(1, 24 * 40)),
        st.tuples(st.just("delete"), st.integers(0, 30)),
        st.tuples(st.just("advance"), st.integers(1, 24 * 9)),
    ),
    min_size=1,
    max_size=12,
)
FILTERS = st.builds(
    LeadQuery,
    page=st.integers(1, 3),
    limit=st.integers(1, 40),
    min_score=st.none() | st.integers(0, 150),
    event_type=st.none() | st.sampled_from(["page_view", "email_click", "demo_request"]),
    last_active=st.none() | st.sampled_from(LIST_LEADS.parameter("last_active").enum),
    created_range=st.none() | st.sampled_from(LIST_LEADS.parameter("range").enum),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS, queries=st.lists(FILTERS, min_size=1, max_size=4))
def test_the_list_indexes_follow_writes_deletions_and_the_clock(
    spec: Contract, steps: list[tuple[Any, ...]], queries: list[LeadQuery]
) -> None:
    """The indexes behind GET /leads (per event type, per window) against the brute force, as the store
    changes and time passes: windows slide, days turn, leads move between lists."""
    clock = FakeClock()
    store = make_store(spec, clock)
    for query in queries:  # queried first, so that later changes must update lists already built
        assert store.list_leads(DEFAULT, query)["total"] == _expected_page(store, query)[0]
    for number, step in enumerate(steps):
        ids = [str(lead["lead_id"]) for lead in _all_leads(store, DEFAULT)]
        if step[0] == "ingest":
            alias = ("email", f"idx{number}@example.com") if step[2] == 0 else None
            target = {"aliases": (alias,)} if alias else {"lead_id": ids[step[2] % len(ids)]}
            store.ingest(DEFAULT, IngestRequest(step[1], **target))
        elif step[0] == "back-dated":
            moment = clock.now - timedelta(hours=step[2])
            store.ingest(DEFAULT, IngestRequest("page_view", lead_id=ids[step[1] % len(ids)], timestamp=moment))
        elif step[0] == "delete":
            store.delete_lead(DEFAULT, ids[step[1] % len(ids)])
        else:
            clock.advance(hours=step[1])
        for query in queries:
            total, page = _expected_page(store, query)
            body = store.list_leads(DEFAULT, query)
            assert body["total"] == total, (step, query)
            assert body["leads"] == page, (step, query)


def test_event_metadata_kept_as_sent_is_bounded_and_freed_when_events_go(spec: Contract, clock: FakeClock) -> None:
    """Metadata kept as sent counts against max_event_metadata_bytes (a 409 past it, nothing changed); events
    dropped by max_events_per_lead or by a deletion give their bytes back."""
    limits = dataclasses.replace(StoreLimits.from_spec(spec), max_event_metadata_bytes=120_000, max_events_per_lead=3)
    store = LeadStore(load_seed(DEFAULT_SEED, spec), limits, clock=clock)
    big = {"blob": "x" * 50_000}
    for _ in range(2):
        store.ingest(DEFAULT, IngestRequest("page_view", lead_id="ld_123", metadata=big))
    before = store.list_events(DEFAULT, "ld_123", 1, 100, None)["total"]
    with pytest.raises(LimitReached):
        store.ingest(DEFAULT, IngestRequest("page_view", lead_id="ld_123", metadata=big))
    assert store.list_events(DEFAULT, "ld_123", 1, 100, None)["total"] == before  # the refusal changed nothing
    for _ in range(3):  # small events push the big ones out of the lead's 3: their bytes are free again
        store.ingest(DEFAULT, IngestRequest("page_view", lead_id="ld_123", metadata={"n": 1}))
    other = store.ingest(DEFAULT, IngestRequest("page_view", (("email", "big@example.com"),), metadata=big))
    store.ingest(DEFAULT, IngestRequest("page_view", lead_id=other["lead_id"], metadata=big))
    with pytest.raises(LimitReached):
        store.ingest(DEFAULT, IngestRequest("page_view", lead_id="ld_123", metadata=big))
    store.delete_lead(DEFAULT, other["lead_id"])  # a deleted lead's events are gone with it
    store.ingest(DEFAULT, IngestRequest("page_view", lead_id="ld_123", metadata=big))
