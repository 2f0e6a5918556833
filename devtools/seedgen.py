"""Generates the demo seed: the seed page's lead `ld_123`, a few leads with special behaviour, and
realistic random leads (deterministic for a given --random-seed). Times are relative to start-up.

`python -m devtools.seedgen > mock_server/data/seed.yaml` rebuilds the shipped seed;
`--leads 100000 --format json` builds the large seed of the benchmark.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from typing import Any

import yaml

from mock_server.leads.random_leads import random_lead

RULESETS: list[dict[str, Any]] = [
    {
        "ruleset_id": "ruleset_default",
        "name": "Engagement - Standard",
        "primary": True,
        "rules": [
            {
                "rule_id": "rl_pricing_view",
                "event_type": "page_view",
                "weight": 10,
                "filter": {"key": "path", "contains": "/pricing"},
            },
            {"rule_id": "rl_page_view", "event_type": "page_view", "weight": 5},
            {"rule_id": "rl_email_click", "event_type": "email_click", "weight": 5},
            {"rule_id": "rl_email_open", "event_type": "email_open", "weight": 1},
            {"rule_id": "rl_webinar_attend", "event_type": "webinar_attend", "weight": 30},
            {"rule_id": "rl_form_submit", "event_type": "form_submit", "weight": 20},
            {"rule_id": "rl_demo_request", "event_type": "demo_request", "weight": 25},
            {"rule_id": "rl_decay", "event_type": "DECAY", "weight": -2},
        ],
    },
    {
        "ruleset_id": "ruleset_product",
        "name": "Product usage",
        "primary": False,
        "rules": [
            {
                "rule_id": "rl_docs_view",
                "event_type": "page_view",
                "weight": 2,
                "filter": {"key": "path", "contains": "/docs"},
            },
            {"rule_id": "rl_signup", "event_type": "signup", "weight": 30},
            {"rule_id": "rl_feature_used", "event_type": "feature_used", "weight": 3},
            {"rule_id": "rl_product_decay", "event_type": "DECAY", "weight": -1},
        ],
    },
    {
        "ruleset_id": "ruleset_fit",
        "name": "Profile - Fit A",
        "kind": "profile",
        "primary": True,
        "rules": [
            {"rule_id": "rl_fit_form", "event_type": "form_submit", "weight": 10},
            {"rule_id": "rl_fit_demo", "event_type": "demo_request", "weight": 20},
        ],
    },
]

ORGS: list[dict[str, Any]] = [
    {
        "org_id": "org_456",
        "name": "Acme Demo",
        "units": [
            {
                "unit_id": "unit_default",
                "name": "Default",
                "slug": "default",
                "external_ref": None,
                "is_default": True,
            },
            {
                "unit_id": "unit_emea",
                "name": "EMEA",
                "slug": "emea",
                "external_ref": "SF-BU-0042",
                "is_default": False,
            },
        ],
    },
    {
        "org_id": "org_789",
        "name": "Globex (another organization)",
        "units": [
            {
                "unit_id": "unit_default",
                "name": "Default",
                "slug": "default",
                "external_ref": None,
                "is_default": True,
            },
        ],
    },
]

TOKENS: list[dict[str, Any]] = [
    {
        "token": "kbn_pat_demo",
        "org_id": "org_456",
        "units": ["unit_default", "unit_emea"],
        "default_unit": "unit_default",
    },
    {"token": "kbn_pat_demo_emea", "org_id": "org_456", "units": ["unit_emea"], "default_unit": "unit_emea"},
    {
        "token": "kbn_pat_other",
        "org_id": "org_789",
        "units": ["unit_default"],
        "default_unit": "unit_default",
    },
    # A user with two OUs and no default one: without the activeOu cookie, "Active OU must be set".
    {"token": "kbn_pat_demo_nodefault", "org_id": "org_456", "units": ["unit_default", "unit_emea"]},
    # The demo user signed in from a browser (docs §1.2: browser and SPA clients send a JWT Bearer token).
    # Its payload says {"sub":"usr_demo","org_id":"org_456","iss":"leadvibe-mock"}; no signature is checked.
    {
        "token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c3JfZGVtbyIsIm9yZ19pZCI6Im9yZ180NTYiLCJpc3MiOiJsZWFk"
        "dmliZS1tb2NrIn0.bW9jay1zaWduYXR1cmU",
        "org_id": "org_456",
        "units": ["unit_default", "unit_emea"],
        "default_unit": "unit_default",
    },
]

# Service-account credentials (HTTP Basic, client_id:client_secret), each tied to one OU.
SERVICE_ACCOUNTS: list[dict[str, Any]] = [
    {"client_id": "lv_ci_demo", "client_secret": "lv_cs_demo", "org_id": "org_456", "unit_id": "unit_default"},
    {"client_id": "lv_ci_demo_emea", "client_secret": "lv_cs_demo_emea", "org_id": "org_456", "unit_id": "unit_emea"},
]

# The lead of the original API page, exactly as printed there (score 75 from these events).
LEAD_FROM_THE_PAGE: dict[str, Any] = {
    "lead_id": "ld_123",
    "org_id": "org_456",
    "unit_id": "unit_default",
    "owner_name": "Jane Smith",
    "created_at": "2025-01-01T08:00:00Z",
    "updated_at": "2025-01-15T10:30:00Z",
    "metadata": {
        "first_name": "Alex",
        "last_name": "Johnson",
        "company": "Acme Corp",
        "title": "VP Marketing",
    },
    "aliases": [
        {
            "id": "alias_123",
            "kind": "email",
            "value": "alex@example.com",
            "created_at": "2025-01-01T08:00:00Z",
        },
        {"id": "alias_456", "kind": "phone", "value": "+1-555-0100", "created_at": "2025-01-05T14:00:00Z"},
        {
            "id": "alias_789",
            "kind": "cookie",
            "value": "c_abc123def456",
            "created_at": "2025-01-10T09:00:00Z",
        },
    ],
    "events": [
        {"event_type": "form_submit", "at": "2025-01-01T08:00:00Z", "metadata": {"form": "ebook"}},
        {"event_type": "page_view", "at": "2025-01-03T16:20:00Z", "metadata": {"path": "/pricing"}},
        {"event_type": "email_click", "at": "2025-01-06T09:12:00Z", "metadata": {"campaign": "jan-nurture"}},
        {
            "event_type": "webinar_attend",
            "at": "2025-01-10T09:00:00Z",
            "metadata": {"webinar": "scoring-101"},
        },
        {"event_type": "email_click", "at": "2025-01-12T11:45:00Z", "metadata": {"campaign": "jan-nurture"}},
        {
            "event_type": "page_view",
            "at": "2025-01-15T10:30:00Z",
            "metadata": {"path": "/docs/getting-started"},
        },
    ],
}


def special_leads() -> list[dict[str, Any]]:
    """Leads with behaviour random data would not show: a failing deletion, a score reset, bot traffic."""
    base = {"org_id": "org_456", "unit_id": "unit_default", "created_at": "now-20d"}
    return [
        {
            **base,
            "lead_id": "ld_legal_hold",
            "owner_name": "Carlos Mendes",
            "deletion_fails": True,
            "metadata": {
                "first_name": "Rita",
                "last_name": "Kovacs",
                "company": "Initech",
                "legal_hold": True,
            },
            "aliases": [
                {
                    "id": "alias_legal_e",
                    "kind": "email",
                    "value": "rita.kovacs@initech.example",
                    "created_at": "now-20d",
                }
            ],
            "events": [{"event_type": "demo_request", "at": "now-2d"}],
        },
        {
            **base,
            "lead_id": "ld_score_reset",
            "owner_name": "Aiko Sato",
            "score_reset_at": "now-3d",
            "metadata": {"first_name": "Tom", "last_name": "Berg", "company": "Hooli"},
            "aliases": [
                {
                    "id": "alias_reset_e",
                    "kind": "email",
                    "value": "tom.berg@hooli.example",
                    "created_at": "now-20d",
                }
            ],
            "events": [
                {"event_type": "webinar_attend", "at": "now-10d"},
                {"event_type": "form_submit", "at": "now-5d"},
                {"event_type": "page_view", "at": "now-2d", "metadata": {"path": "/pricing"}},
                {"event_type": "email_click", "at": "now-1h"},
            ],
        },
        {
            **base,
            "lead_id": "ld_bot_burst",
            "owner_name": None,
            "metadata": {"company": "Unknown"},
            "aliases": [{"id": "alias_bot_c", "kind": "cookie", "value": "c_bot000000001", "created_at": "now-20d"}],
            "events": [
                {
                    "event_type": "page_view",
                    "at": f"now-0d2h{minute}m",
                    "metadata": {"path": "/"},
                    "suppressed": minute > 0,
                }
                for minute in range(8)
            ],
        },
    ]


def build_seed(leads: int, random_seed: int, events: tuple[int, int] = (3, 30)) -> dict[str, Any]:
    rng = random.Random(random_seed)
    generated = [LEAD_FROM_THE_PAGE, *special_leads()]
    for index in range(leads):
        # Of every 20 leads: 2 in the other organization, 7 in EMEA, 11 in the default OU.
        slot = index % 20
        org_id, unit_id = (
            ("org_789", "unit_default") if slot < 2 else ("org_456", "unit_emea" if slot < 9 else "unit_default")
        )
        generated.append(random_lead(rng, index, org_id, unit_id, rng.randint(*events)))
    return {
        "orgs": ORGS,
        "tokens": TOKENS,
        "service_accounts": SERVICE_ACCOUNTS,
        "rulesets": RULESETS,
        "leads": generated,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=72, help="random leads besides the fixed ones (default 72)")
    parser.add_argument("--random-seed", type=int, default=20250115)
    parser.add_argument("--max-events", type=int, default=30, help="events per random lead, at most")
    parser.add_argument("--format", choices=["yaml", "json"], default="yaml")
    args = parser.parse_args(argv)
    seed = build_seed(args.leads, args.random_seed, (min(3, args.max_events), args.max_events))
    if args.format == "json":
        json.dump(seed, sys.stdout, separators=(",", ":"), ensure_ascii=False)
    else:
        sys.stdout.write(
            "# Generated by `python -m devtools.seedgen`; edit the generator, not this file.\n"
            "# Times are RFC 3339 or relative to start-up (now-<days>d<hours>h<minutes>m).\n"
        )
        yaml.safe_dump(seed, sys.stdout, sort_keys=False, allow_unicode=True, width=120)


if __name__ == "__main__":
    main()
