"""Named states of the mock, switchable at run time (`PUT /_mock/scenario`) without a restart.

A scenario is the seed, changed: fewer or more leads, or one lead made special, plus what cannot be
seeded (a deletion already under way), done through the store's own operations after the reset. Each
scenario builds on the seed file in use, so a seed of your own gets them too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import random
from collections.abc import Callable
from datetime import timedelta

from mock_server.api.auth import Scope
from mock_server.leads.errors import DomainError
from mock_server.leads.random_leads import random_lead
from mock_server.leads.seed import SeedData, _lead
from mock_server.leads.store import LeadStore

THE_LEAD = "ld_123"  # the lead of the original API page, in org_456 / unit_default
THE_SCOPE = Scope("org_456", "unit_default")
LARGE_ACCOUNT_LEADS = 5_000


class UnknownScenario(KeyError):
    pass


def _same(seed: SeedData) -> SeedData:
    return seed


def _empty(seed: SeedData) -> SeedData:
    return dataclasses.replace(seed, leads=())


def _large(seed: SeedData) -> SeedData:
    rng = random.Random(456)
    extra = tuple(
        _lead(random_lead(rng, 100_000 + index, "org_456", "unit_default", rng.randint(3, 12)))
        for index in range(LARGE_ACCOUNT_LEADS)
    )
    return dataclasses.replace(seed, leads=(*seed.leads, *extra))


def _changing_the_lead(**changes: object) -> Callable[[SeedData], SeedData]:
    def change(seed: SeedData) -> SeedData:
        leads = tuple(
            dataclasses.replace(lead, **changes) if lead.lead_id == THE_LEAD else lead  # type: ignore[arg-type]
            for lead in seed.leads
        )
        return dataclasses.replace(seed, leads=leads)

    return change


def _delete_the_lead(store: LeadStore) -> None:
    with contextlib.suppress(DomainError):  # a seed of your own without ld_123
        store.delete_lead(THE_SCOPE, THE_LEAD, delay=timedelta(days=1))


# name -> (what it is, how it changes the seed, what it does after the reset)
SCENARIOS: dict[str, tuple[str, Callable[[SeedData], SeedData], Callable[[LeadStore], None] | None]] = {
    "demo": ("the shipped seed as it is (ld_123 and about 75 leads)", _same, None),
    "empty": ("no leads at all (tokens and OUs as in the seed): empty lists, 404s", _empty, None),
    "large": (f"the seed plus {LARGE_ACCOUNT_LEADS:,} leads in org_456 / unit_default: paging", _large, None),
    "deletion-pending": (
        "ld_123 deleted, its deletion pending for a day: 404 on the lead, deletion-status 'pending'",
        _same,
        _delete_the_lead,
    ),
    "deletion-fails": (
        "deleting ld_123 ends in deletion-status 'failed'",
        _changing_the_lead(deletion_fails=True),
        None,
    ),
    "score-reset": ("ld_123's score was reset an hour ago", _changing_the_lead(score_reset_at="now-1h"), None),
}


def scenario_seed(name: str, seed: SeedData) -> SeedData:
    if name not in SCENARIOS:
        raise UnknownScenario(name)
    return SCENARIOS[name][1](seed)


def apply_scenario(name: str, store: LeadStore) -> None:
    """What the scenario does once the store holds its seed."""
    after = SCENARIOS[name][2]
    if after is not None:
        after(store)


def describe() -> dict[str, str]:
    return {name: description for name, (description, _, _) in SCENARIOS.items()}
