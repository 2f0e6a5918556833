"""`leadvibe-mock --proxy UPSTREAM --record DIR`: real traffic kept as a scenario the mock can serve.

The folder holds three files (leadvibe_contract/recorded.py, docs/recording.md):

- `exchanges.jsonl`: one line per exchange of a spec operation, in order: operation, method, path, query,
  the JSON request body, status and JSON answer. No header is kept but the content types, so no credential
  (Authorization, Cookie, Set-Cookie, API keys) is ever written; non-JSON bodies are kept as `null`.
- `seed.yaml`: the mock's own seed format. Its organizations, tokens and rulesets are the shipped seed's
  (the upstream's are not visible through its answers, and its credentials are never kept); its leads are
  every lead an answer showed, as first seen, with the aliases and events answers listed. A lead goes to
  the default OU of its organization (an organization the shipped seed lacks is added, with a token of
  its own), since an answer never names the OU.
- `recording.json`: what was recorded, and the mock token a replay against the loaded mock sends.

Personal data is redacted by default, the same way in every file, so that a recorded lookup still finds
its lead: values under the keys of `PERSONAL_KEYS` at any depth, alias values of `PERSONAL_ALIAS_KINDS`,
and any string that is an email address become placeholders (`person3@example.invalid`, `Person 3`).
`--keep-personal-data` keeps them as they came.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import yaml

from leadvibe_contract.contract import Contract, path_pattern
from leadvibe_contract.recorded import EXCHANGES, MANIFEST, SEED, read_exchanges
from mock_server.leads.seed import DEFAULT_SEED

PERSONAL_KEYS = frozenset({"email", "first_name", "last_name", "name", "full_name", "owner_name", "phone"})
PERSONAL_ALIAS_KINDS = frozenset({"email", "phone", "social"})
_ALIAS_VALUE_KEYS = ("value", "raw_value", "alias")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # the seed's id rule (mock_server.leads.seed)


class Redactor:
    """Replaces personal values by placeholders, one per distinct value, the same in every exchange."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self.replacements: dict[str, str] = {}
        self.hits = 0  # values replaced so far: whether a request carries a placeholder

    def placeholder(self, value: str, key: str) -> str:
        self.hits += 1
        if value not in self.replacements:
            n = len(self.replacements) + 1
            if _EMAIL.fullmatch(value):
                self.replacements[value] = f"person{n}@example.invalid"
            elif key == "phone" or value.startswith("+"):
                self.replacements[value] = f"+1555{n:07d}"
            else:
                self.replacements[value] = f"Person {n}"
        return self.replacements[value]

    def string(self, value: str) -> str:
        if value in self.replacements:
            self.hits += 1
            return self.replacements[value]
        return self.placeholder(value, "email") if _EMAIL.fullmatch(value) else value

    def document(self, node: Any) -> Any:
        if self.keep:
            return node
        if isinstance(node, list):
            return [self.document(item) for item in node]
        if isinstance(node, str):
            return self.string(node)
        if not isinstance(node, dict):
            return node
        kind = node.get("kind", node.get("alias_kind"))
        personal_alias = kind in PERSONAL_ALIAS_KINDS
        return {
            key: self.placeholder(value, key)
            if isinstance(value, str) and (key in PERSONAL_KEYS or (personal_alias and key in _ALIAS_VALUE_KEYS))
            else self.document(value)
            for key, value in node.items()
        }

    def query(self, query: str) -> str:
        if self.keep or not query:
            return query
        pairs = parse_qsl(query, keep_blank_values=True)
        personal = dict(pairs).get("kind") in PERSONAL_ALIAS_KINDS
        before = self.hits
        redacted = [
            (k, self.placeholder(v, "value") if personal and k == "value" else self.string(v)) for k, v in pairs
        ]
        return urlencode(redacted) if self.hits != before else query  # as it came when nothing personal


def _json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


class Recorder:
    """Appends each exchange to `exchanges.jsonl` (flushed per line); `finish` writes the seed and manifest."""

    def __init__(self, directory: Path, contract: Contract, upstream: str, *, keep_personal: bool = False) -> None:
        self.directory = directory
        self.contract = contract
        self.upstream = upstream
        self.redactor = Redactor(keep_personal)
        self._lock = threading.Lock()
        self._count = 0

    def start(self) -> None:
        """An empty recording: no seed of an earlier one stays beside the new exchanges if this one is killed."""
        self.directory.mkdir(parents=True, exist_ok=True)
        for name in (SEED, MANIFEST):
            (self.directory / name).unlink(missing_ok=True)
        (self.directory / EXCHANGES).write_text("", encoding="utf-8")

    def record(
        self, operation_id: str, method: str, path: str, query: str, request_body: bytes, status: int, answer: bytes
    ) -> None:
        with self._lock:  # one redactor: numbering and order of lines stay consistent
            self._count += 1
            before = self.redactor.hits
            entry = {
                "n": self._count,
                "operation": operation_id,
                "method": method,
                "path": path,
                "query": self.redactor.query(query),
                "body": self.redactor.document(_json(request_body)),
            }
            # A request that carries a placeholder finds nothing upstream: replayed against the mock only.
            entry["request_redacted"] = self.redactor.hits != before
            entry |= {"status": status, "answer": self.redactor.document(_json(answer))}
            with (self.directory / EXCHANGES).open("a", encoding="utf-8") as out:
                out.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def finish(self) -> str:
        """Writes seed.yaml and recording.json from the exchanges; a one-line account of the recording."""
        exchanges = read_exchanges(self.directory)
        seed, token, leads = scenario_seed(exchanges, self.contract)
        (self.directory / SEED).write_text(
            "# Recorded by leadvibe-mock --record (docs/recording.md): load with leadvibe-mock --scenario DIR.\n"
            + yaml.safe_dump(seed, sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )
        manifest = {
            "upstream": self.upstream,
            "exchanges": len(exchanges),
            "leads": leads,
            "personal_data": "kept" if self.redactor.keep else "redacted",
            "mock_token": token,
        }
        (self.directory / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        return f"recorded {len(exchanges)} exchange(s) and {leads} lead(s) to {self.directory}"


def path_argument(template: str, path: str, name: str) -> str | None:
    """The value of `{name}` in `path`, matched against the operation's path template."""
    found = path_pattern(template).fullmatch(path)
    return found.group(name) if found and name in found.groupdict() else None


def _leads_in(answer: Any) -> Iterator[Mapping[str, Any]]:
    """Every lead object of an answer: the lead itself or the items of a list of leads."""
    if not isinstance(answer, dict):
        return
    for item in [answer, *(answer.get("leads") or [])]:
        if isinstance(item, dict) and {"lead_id", "org_id", "created_at"} <= set(item):
            yield item


def _items(answer: Mapping[str, Any], key: str, needed: set[str]) -> Iterator[Mapping[str, Any]]:
    """The objects of a listed collection that have what a seed entry needs (others are left out)."""
    items = answer.get(key)
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and needed <= set(item):
            yield item


def scenario_seed(exchanges: list[dict[str, Any]], contract: Contract) -> tuple[dict[str, Any], str, int]:
    """The seed of a recording (see the module's docstring), the token that sees its leads, its lead count."""
    base = yaml.safe_load(DEFAULT_SEED.read_text(encoding="utf-8"))
    seed: dict[str, Any] = {key: base[key] for key in ("orgs", "tokens", "service_accounts", "rulesets")}
    leads: dict[str, dict[str, Any]] = {}
    aliases: dict[str, dict[str, Mapping[str, Any]]] = {}
    events: dict[str, dict[str, Mapping[str, Any]]] = {}
    for exchange in exchanges:
        if exchange["status"] // 100 != 2:
            continue
        answer = exchange["answer"]
        for lead in _leads_in(answer):
            valid = all(isinstance(lead[key], str) and _ID.fullmatch(lead[key]) for key in ("lead_id", "org_id"))
            if valid and lead["lead_id"] not in leads:
                leads[lead["lead_id"]] = {
                    key: lead[key]
                    for key in ("lead_id", "org_id", "owner_name", "metadata", "created_at", "updated_at")
                    if key in lead
                }
        template = contract.operations[exchange["operation"]].path
        lead_id = path_argument(template, exchange["path"], "leadID")
        if lead_id is None or not isinstance(answer, dict):
            continue
        for alias in _items(answer, "aliases", {"id", "kind", "value", "created_at"}):
            aliases.setdefault(lead_id, {}).setdefault(str(alias["id"]), alias)
        for event in _items(answer, "events", {"id", "event_type", "created_at"}):
            events.setdefault(lead_id, {}).setdefault(str(event["id"]), event)
    token = _place(seed, leads)
    for lead_id, lead in leads.items():
        lead["aliases"] = [
            {
                "id": alias_id if _ID.fullmatch(alias_id) else f"als_rec_{n}",
                **{key: alias[key] for key in ("kind", "value", "created_at")},
            }
            for n, (alias_id, alias) in enumerate(aliases.get(lead_id, {}).items())
        ]
        lead["events"] = [
            {
                **({"id": event_id} if _ID.fullmatch(event_id) else {}),
                "event_type": event["event_type"],
                "at": event["created_at"],
                "metadata": event.get("metadata") or {},
                "suppressed": event.get("suppression_reason") is not None,
            }
            for event_id, event in events.get(lead_id, {}).items()
        ]
    seed["leads"] = list(leads.values())
    return seed, token, len(leads)


def _place(seed: dict[str, Any], leads: dict[str, dict[str, Any]]) -> str:
    """Puts each lead in its organization's default OU (adding an organization and a token the shipped seed
    lacks); the token of the first lead's organization (the demo token without a lead)."""
    defaults = {
        org["org_id"]: next((u["unit_id"] for u in org["units"] if u.get("is_default")), org["units"][0]["unit_id"])
        for org in seed["orgs"]
    }
    tokens: dict[str, str] = {}
    for token in seed["tokens"]:
        if token.get("default_unit") == defaults.get(token["org_id"]):
            tokens.setdefault(token["org_id"], token["token"])
    for lead in leads.values():
        org = lead["org_id"]
        if org not in defaults:
            unit = {"unit_id": "unit_default", "name": "Default", "slug": "default", "is_default": True}
            seed["orgs"].append({"org_id": org, "name": f"{org} (recorded)", "units": [unit]})
            token = f"kbn_pat_recorded_{org}"
            seed["tokens"].append(
                {"token": token, "org_id": org, "units": ["unit_default"], "default_unit": "unit_default"}
            )
            defaults[org], tokens[org] = "unit_default", token
        lead["unit_id"] = defaults[org]
    first = next(iter(leads.values()), None)
    return tokens[first["org_id"]] if first else seed["tokens"][0]["token"]


def recording_seed(directory: Path) -> Path:
    """The seed file of a recording folder, for `--scenario DIR`."""
    seed = directory / SEED
    if not seed.is_file():
        raise ValueError(f"{directory} holds no {SEED}: not a recording (leadvibe-mock --proxy URL --record DIR)")
    return seed
