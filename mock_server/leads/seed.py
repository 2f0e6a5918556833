"""The seed file: organizations, OUs, demo tokens, rulesets and leads the mock starts with.

Loaded and checked once at start-up (a bad seed fails with a message naming the entry); the store
re-materializes it on every reset. Times may be absolute (RFC 3339) or relative to start-up
(`now-3d4h`), so that the demo data stays recent.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema_rs
import yaml

from leadvibe_contract.contract import SPEC_URI, Contract
from mock_server.leads.scoring import Rule, Ruleset
from mock_server.leads.timeutil import resolve_time

DEFAULT_SEED = Path(__file__).parents[1] / "data" / "seed.yaml"


class SeedError(Exception):
    """The seed file cannot be used; the message says which entry and why."""


@dataclass(frozen=True)
class OrgUnitSeed:
    unit_id: str
    org_id: str
    name: str
    slug: str
    external_ref: str | None
    is_default: bool


@dataclass(frozen=True)
class TokenSeed:
    token: str
    org_id: str
    units: tuple[str, ...]
    default_unit: str | None  # None: the user has no default OU, so the activeOu cookie is required


@dataclass(frozen=True)
class ServiceAccountSeed:
    """Service-account credentials (HTTP Basic), tied to one OU."""

    client_id: str
    client_secret: str
    org_id: str
    unit_id: str


@dataclass(frozen=True)
class AliasSeed:
    alias_id: str
    kind: str
    value: str
    created_at: object


@dataclass(slots=True)
class EventSeed:
    event_id: str
    event_type: str
    at: object
    metadata: Mapping[str, Any]
    suppressed: bool


@dataclass(frozen=True)
class LeadSeed:
    lead_id: str
    org_id: str
    unit_id: str
    owner_name: str | None
    owner_id: str | None
    metadata: Mapping[str, Any]
    created_at: object
    updated_at: object | None
    aliases: tuple[AliasSeed, ...]
    events: tuple[EventSeed, ...]
    score_reset_at: object | None
    deletion_fails: bool


@dataclass(frozen=True)
class SeedData:
    org_units: tuple[OrgUnitSeed, ...]
    tokens: tuple[TokenSeed, ...]
    service_accounts: tuple[ServiceAccountSeed, ...]
    rulesets: tuple[Ruleset, ...]
    leads: tuple[LeadSeed, ...]


_TIME: Mapping[str, Any] = {}  # RFC 3339 or `now-...`; checked by _check_times
_ID = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
_SETUP: Mapping[str, Any] = {  # organizations, tokens and rulesets: the mock's own, no spec schema
    "type": "object",
    "additionalProperties": False,
    "required": ["orgs", "tokens", "rulesets", "leads"],
    "properties": {
        "orgs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["org_id", "units"],
                "properties": {
                    "org_id": _ID,
                    "name": {"type": "string"},
                    "units": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["unit_id", "name", "slug"],
                            "properties": {
                                "unit_id": _ID,
                                "name": {"type": "string", "minLength": 1},
                                "slug": {"type": "string"},
                                "external_ref": {"type": ["string", "null"]},
                                "is_default": {"type": "boolean"},
                            },
                        },
                    },
                },
            },
        },
        "tokens": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["token", "org_id", "units"],
                "properties": {
                    "token": {"type": "string", "pattern": "^[A-Za-z0-9._~+/-]+=*$"},
                    "org_id": _ID,
                    "units": {"type": "array", "minItems": 1, "items": _ID},
                    "default_unit": _ID,
                },
            },
        },
        "service_accounts": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["client_id", "client_secret", "org_id", "unit_id"],
                "properties": {
                    "client_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                    "client_secret": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"},
                    "org_id": _ID,
                    "unit_id": _ID,
                },
            },
        },
        "rulesets": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["ruleset_id", "name", "rules"],
                "properties": {
                    "ruleset_id": _ID,
                    "name": {"type": "string"},
                    "primary": {"type": "boolean"},
                    "kind": {"enum": ["engagement", "profile"]},
                    "rules": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["rule_id", "event_type", "weight"],
                            "properties": {
                                "rule_id": _ID,
                                "event_type": {"type": "string"},
                                "weight": {"type": "integer"},
                                "filter": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["key", "contains"],
                                    "properties": {"key": {"type": "string"}, "contains": {"type": "string"}},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}
# What the mock derives from a lead's events and never takes from a seed.
COMPUTED = frozenset({"score", "last_event_at"})


def _spec_fields(spec: Contract, name: str, *, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every field of the spec's schema `name`, each under the spec's own schema (a field added to the spec is a
    field of the seed); times also relative to start-up (`now-3d`, checked by `_check_times`)."""
    fields: dict[str, Any] = {}
    for field_name, schema in spec.schema(name)["properties"].items():
        if field_name in skip:
            continue
        resolved = spec.resolve(schema)
        if resolved.get("format") == "date-time":
            fields[field_name] = _TIME
        else:
            fields[field_name] = {"$ref": f"{SPEC_URI}#/components/schemas/{name}/properties/{field_name}"}
    return fields


def seed_schema(spec: Contract) -> dict[str, Any]:
    """The seed file's shape: a lead is the spec's `Lead` and an alias the spec's `Alias`, beside what only the
    mock keeps (the OU, the owner's id, events, a score reset, a failing deletion); identifiers are also
    URL-safe (the mock's rule for its own data)."""

    def spec_ref(name: str) -> dict[str, Any]:
        return {"$ref": f"{SPEC_URI}#/components/schemas/{name}"}

    alias = {**_spec_fields(spec, "Alias"), "id": {"allOf": [spec_ref("Alias/properties/id"), _ID]}}
    event = {
        "id": _ID,
        "event_type": spec_ref("EventType"),
        "at": _TIME,
        "metadata": spec_ref("EventMetadata"),
        "suppressed": {"type": "boolean"},
    }
    lead = {
        **_spec_fields(spec, "Lead", skip=COMPUTED),
        "lead_id": {"allOf": [spec_ref("LeadId"), _ID]},
        "org_id": _ID,
        "unit_id": _ID,
        "owner_id": spec_ref("OwnerId"),
        "score_reset_at": _TIME,
        "deletion_fails": {"type": "boolean"},
        "aliases": {"type": "array", "items": _closed(alias, ["id", "kind", "value", "created_at"])},
        "events": {"type": "array", "items": _closed(event, ["event_type", "at"])},
    }
    schema = dict(_SETUP)
    schema["properties"] = {**_SETUP["properties"], "leads": {"type": "array", "items": _closed(lead, LEAD_REQUIRED)}}
    return schema


LEAD_REQUIRED = ["lead_id", "org_id", "unit_id", "created_at"]  # the rest has a default


def _closed(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc}") from exc
    if path.suffix.lower() == ".json":  # JSON is YAML too, but the json module reads it ~100x faster
        try:
            return json.loads(text)
        except ValueError as exc:
            raise SeedError(f"seed file {path} is not valid JSON: {exc}") from exc
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise SeedError(f"seed file {path} is not valid YAML: {exc}") from exc


def _check(raw: Any, spec: Contract, path: Path) -> None:
    """The seed's shape, each lead's values under the contract's schemas."""
    shape = jsonschema_rs.Draft202012Validator(seed_schema(spec), registry=spec.registry, validate_formats=True)
    for error in shape.iter_errors(raw):
        where = "/".join(str(part) for part in error.instance_path) or "(top level)"
        lead = _lead_label(raw, error.instance_path)
        raise SeedError(f"seed file {path}: at {where}{lead}: {error.message}")


def _lead_label(raw: Any, where: Sequence[str | int]) -> str:
    """` (ld_123)` when the error is inside a lead that has an id, so that the message names the lead."""
    if len(where) < 2 or where[0] != "leads" or not isinstance(where[1], int):
        return ""
    lead = raw["leads"][where[1]]
    lead_id = lead.get("lead_id") if isinstance(lead, dict) else None
    return f" ({lead_id})" if isinstance(lead_id, str) else ""


def _check_times(seed: SeedData, path: Path) -> None:
    now = datetime.now(UTC)
    for lead in seed.leads:
        times = [lead.created_at, lead.updated_at, lead.score_reset_at]
        times += [alias.created_at for alias in lead.aliases] + [event.at for event in lead.events]
        for value in times:
            if value is None:
                continue
            try:
                resolve_time(value, now)
            except ValueError as exc:
                raise SeedError(f"seed file {path}: lead {lead.lead_id}: {exc}") from exc


def _cross_check(seed: SeedData, path: Path) -> None:
    units = {(unit.org_id, unit.unit_id) for unit in seed.org_units}
    for token in seed.tokens:
        for unit in token.units:
            if (token.org_id, unit) not in units:
                raise SeedError(f"seed file {path}: token {token.token[:12]}…: unknown OU {unit!r}")
        if token.default_unit is not None and token.default_unit not in token.units:
            raise SeedError(f"seed file {path}: token {token.token[:12]}…: default_unit not in units")
    for account in seed.service_accounts:
        if (account.org_id, account.unit_id) not in units:
            raise SeedError(f"seed file {path}: service account {account.client_id}: unknown OU {account.unit_id!r}")
    for kind in ("engagement", "profile"):
        primaries = sum(ruleset.primary for ruleset in seed.rulesets if ruleset.kind == kind)
        if primaries > 1 or (kind == "engagement" and primaries != 1):
            raise SeedError(f"seed file {path}: exactly one {kind} ruleset must be primary")
    lead_ids: set[str] = set()
    aliases: set[tuple[str, str, str, str]] = set()
    for lead in seed.leads:
        if (lead.org_id, lead.unit_id) not in units:
            raise SeedError(f"seed file {path}: lead {lead.lead_id}: unknown OU {lead.unit_id!r}")
        if lead.lead_id in lead_ids:
            raise SeedError(f"seed file {path}: lead {lead.lead_id} appears twice")
        lead_ids.add(lead.lead_id)
        for alias in lead.aliases:
            key = (lead.org_id, lead.unit_id, alias.kind, alias.value)
            if key in aliases:
                raise SeedError(f"seed file {path}: alias {alias.kind}:{alias.value} belongs to two leads")
            aliases.add(key)


def _rulesets(raw: Sequence[Mapping[str, Any]]) -> tuple[Ruleset, ...]:
    return tuple(
        Ruleset(
            ruleset_id=item["ruleset_id"],
            name=item["name"],
            primary=bool(item.get("primary", False)),
            kind=item.get("kind", "engagement"),
            rules=tuple(
                Rule(
                    rule_id=rule["rule_id"],
                    event_type=rule["event_type"],
                    weight=rule["weight"],
                    filter_key=rule.get("filter", {}).get("key"),
                    filter_contains=rule.get("filter", {}).get("contains"),
                )
                for rule in item["rules"]
            ),
        )
        for item in raw
    )


def _lead(raw: Mapping[str, Any]) -> LeadSeed:
    lead_id = raw["lead_id"]
    return LeadSeed(
        lead_id=lead_id,
        org_id=raw["org_id"],
        unit_id=raw["unit_id"],
        owner_name=raw.get("owner_name"),
        owner_id=raw.get("owner_id"),
        metadata=dict(raw.get("metadata") or {}),
        created_at=raw["created_at"],
        updated_at=raw.get("updated_at"),
        aliases=tuple(
            AliasSeed(alias["id"], alias["kind"], alias["value"], alias["created_at"])
            for alias in raw.get("aliases", [])
        ),
        events=tuple(
            EventSeed(
                event_id=event.get("id") or f"evt_{lead_id}_{index}",
                event_type=event["event_type"],
                at=event["at"],
                metadata=event.get("metadata") or {},
                suppressed=bool(event.get("suppressed", False)),
            )
            for index, event in enumerate(raw.get("events", []))
        ),
        score_reset_at=raw.get("score_reset_at"),
        deletion_fails=bool(raw.get("deletion_fails", False)),
    )


def load_seed(path: Path, spec: Contract) -> SeedData:
    """Read, check and parse a seed file (YAML, or JSON, which is YAML too); re-read only when it changed."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise SeedError(f"cannot read seed file {path}: {exc}") from exc
    return _load_seed(path.resolve(), stat.st_mtime_ns, stat.st_size, spec)


@functools.lru_cache(maxsize=8)
def _load_seed(path: Path, mtime_ns: int, size: int, spec: Contract) -> SeedData:
    raw = _read(path)
    _check(raw, spec, path)
    seed = SeedData(
        org_units=tuple(
            OrgUnitSeed(
                unit_id=unit["unit_id"],
                org_id=org["org_id"],
                name=unit["name"],
                slug=unit["slug"],
                external_ref=unit.get("external_ref"),
                is_default=bool(unit.get("is_default", False)),
            )
            for org in raw["orgs"]
            for unit in org["units"]
        ),
        tokens=tuple(
            TokenSeed(
                token=item["token"],
                org_id=item["org_id"],
                units=tuple(item["units"]),
                default_unit=item.get("default_unit"),
            )
            for item in raw["tokens"]
        ),
        service_accounts=tuple(
            ServiceAccountSeed(item["client_id"], item["client_secret"], item["org_id"], item["unit_id"])
            for item in raw.get("service_accounts", [])
        ),
        rulesets=_rulesets(raw["rulesets"]),
        leads=tuple(_lead(item) for item in raw["leads"]),
    )
    _check_times(seed, path)
    _cross_check(seed, path)
    return seed
