"""Realistic random leads (names, companies, events), deterministic for a given random generator: the
demo seed's random leads (`devtools/seedgen.py`) and the leads of the mock's larger scenarios.
"""

from __future__ import annotations

import random
from typing import Any

FIRST_NAMES = (
    "Alex Priya Marcus Sofia Kenji Amara Lukas Chloe Diego Fatima Noah Ingrid "
    "Mateo Aisha Oliver Yuki Hannah Omar Elena Tomasz Grace Ravi Lena Samuel"
).split()
LAST_NAMES = (
    "Johnson Patel Okafor Rossi Tanaka Müller Dubois García Haddad Nguyen Larsen "
    "Kowalski Chen Silva Schmidt Kim O'Brien Novak Ahmed Fischer Moreau Singh"
).split()
COMPANIES = [
    ("Acme Corp", "acme.example"),
    ("Globex", "globex.example"),
    ("Initech", "initech.example"),
    ("Umbrella Health", "umbrella.example"),
    ("Stark Logistics", "stark.example"),
    ("Wayne Analytics", "wayne.example"),
    ("Hooli", "hooli.example"),
    ("Vandelay Imports", "vandelay.example"),
    ("Soylent Foods", "soylent.example"),
    ("Tyrell Robotics", "tyrell.example"),
    ("Cyberdyne Systems", "cyberdyne.example"),
    ("Wonka Industries", "wonka.example"),
]
TITLES = (
    "VP Marketing|Head of Growth|CTO|Marketing Manager|Sales Director|Product Manager|"
    "Demand Generation Lead|CEO|Revenue Operations Manager|Data Analyst"
).split("|")
INDUSTRIES = "Software Healthcare Logistics Retail Manufacturing Finance Media".split()
CITIES_BY_UNIT = {
    "unit_default": ["New York", "Austin", "Toronto", "Chicago", "San Francisco", "Denver"],
    "unit_emea": ["Berlin", "Paris", "London", "Madrid", "Warsaw", "Dublin", "Stockholm"],
}
OWNERS = ["Jane Smith", "Carlos Mendes", "Aiko Sato", "Ben Adeyemi", None, None]
PAGES = [
    "/",
    "/pricing",
    "/pricing/enterprise",
    "/docs/getting-started",
    "/blog/lead-scoring-101",
    "/features",
]
ENGAGEMENT = [
    ("page_view", 10),
    ("email_open", 4),
    ("email_click", 3),
    ("webinar_attend", 1),
    ("form_submit", 1),
    ("demo_request", 1),
    ("feature_used", 2),
    ("signup", 1),
]


def _ago(rng: random.Random, max_hours: int, min_hours: int = 0) -> tuple[int, str]:
    hours = rng.randint(min_hours, max_hours)
    return hours, f"now-{hours // 24}d{hours % 24}h{rng.randint(0, 59)}m"


def _event(rng: random.Random, hours_ago: int) -> dict[str, Any]:
    names, weights = zip(*ENGAGEMENT, strict=True)
    event_type = rng.choices(names, weights)[0]
    metadata: dict[str, Any] = {}
    if event_type == "page_view":
        metadata["path"] = rng.choice(PAGES)
    elif event_type.startswith("email"):
        metadata["campaign"] = rng.choice(["q3-nurture", "product-launch", "webinar-invite"])
    elif event_type == "feature_used":
        metadata["feature"] = rng.choice(["reports", "alerts", "integrations"])
    return {"event_type": event_type, "at": f"now-{hours_ago // 24}d{hours_ago % 24}h", "metadata": metadata}


def random_lead(rng: random.Random, index: int, org_id: str, unit_id: str, events: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company, domain = rng.choice(COMPANIES)
    age_hours, created = _ago(rng, 24 * 120)
    if index % 17 == 0:  # a few leads created today, for the `range` filters
        age_hours, created = _ago(rng, 6)
    lead_id = f"ld_{org_id[-3:]}{unit_id[5:7]}{index:05d}"
    handle = f"{first}.{last}".lower().replace("'", "").replace("ü", "u").replace("í", "i")
    aliases = [
        {
            "id": f"alias_{lead_id[3:]}_e",
            "kind": "email",
            "value": f"{handle}{index}@{domain}",
            "created_at": created,
        }
    ]
    if rng.random() < 0.5:
        aliases.append(
            {
                "id": f"alias_{lead_id[3:]}_c",
                "kind": "cookie",
                "value": f"c_{rng.getrandbits(48):012x}",
                "created_at": created,
            }
        )
    if rng.random() < 0.3:
        aliases.append(
            {
                "id": f"alias_{lead_id[3:]}_p",
                "kind": "phone",
                "value": f"+1-555-{rng.randint(100, 999)}-{index:05d}",  # unique per lead
                "created_at": created,
            }
        )
    if rng.random() < 0.2:
        aliases.append(
            {
                "id": f"alias_{lead_id[3:]}_x",
                "kind": "external_id",
                "value": f"sf_003{rng.getrandbits(40):010x}",
                "created_at": created,
            }
        )
    if rng.random() < 0.1:
        aliases.append(
            {"id": f"alias_{lead_id[3:]}_s", "kind": "social", "value": f"@{handle}{index}", "created_at": created}
        )
    dormant = rng.random() < 0.2  # no activity for over a month: decay applies
    newest = 24 * 35 if dormant else 0
    lead_events = [_event(rng, rng.randint(min(newest, age_hours), age_hours)) for _ in range(events)]
    if dormant:
        lead_events += [
            {"event_type": "DECAY", "at": f"now-{days}d", "metadata": {"channel": "system"}}
            for days in range(1, min(30, age_hours // 24), 7)
        ]
    metadata: dict[str, Any] = {
        "first_name": first,
        "last_name": last,
        "company": company,
        "title": rng.choice(TITLES),
        "industry": rng.choice(INDUSTRIES),
        "city": rng.choice(CITIES_BY_UNIT.get(unit_id, CITIES_BY_UNIT["unit_default"])),
        "employees": rng.choice([12, 45, 180, 950, 4200]),
        "newsletter": rng.random() < 0.6,
    }
    return {
        "lead_id": lead_id,
        "org_id": org_id,
        "unit_id": unit_id,
        "owner_name": rng.choice(OWNERS),
        "created_at": created,
        "metadata": metadata,
        "aliases": aliases,
        "events": lead_events,
    }
