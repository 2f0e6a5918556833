"""When a breaking change may land anyway: a major bump of `info.version`, or an entry of the allow-list
(`compat-allow.yaml`) naming the change, added in the same change set.

Only the entries that are new against the base count: an entry acknowledges the change it was reviewed
with and nothing after it, so a stale entry can never wave a later breaking change through.

    allow:
      - change: "$.paths['/top-leads'].get"      # a JSON path as the gate prints it; `*` is a wildcard
        reason: retired; no client calls it since 2026-10 (ticket LV-123)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from spec_compat.change import BREAKING, Change

ALLOW_FILE = "compat-allow.yaml"


class AllowListError(Exception):
    """The allow-list cannot be read: not YAML, or an entry without a `change` or a `reason`."""


@dataclass(frozen=True)
class Allowance:
    change: str  # a JSON path; `*` matches any run of characters
    reason: str

    def matches(self, where: str) -> bool:
        pattern = ".*".join(re.escape(part) for part in self.change.split("*"))
        return re.fullmatch(pattern, where) is not None


def parse_allowances(text: str | None, source: str = ALLOW_FILE) -> list[Allowance]:
    if not text or not text.strip():
        return []
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AllowListError(f"{source} is not YAML: {exc}") from exc
    entries = document.get("allow") if isinstance(document, Mapping) else None
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise AllowListError(f"{source}: `allow` must be a list")
    found = []
    for index, entry in enumerate(entries):
        change = entry.get("change") if isinstance(entry, Mapping) else None
        reason = entry.get("reason") if isinstance(entry, Mapping) else None
        if not isinstance(change, str) or not change.strip():
            raise AllowListError(f"{source}: entry {index + 1} has no `change` (a JSON path the gate printed)")
        if not isinstance(reason, str) or not reason.strip():
            raise AllowListError(f"{source}: entry {index + 1} ({change}) has no `reason`: say why it is safe")
        found.append(Allowance(change.strip(), " ".join(reason.split())))
    return found


def new_allowances(current: Sequence[Allowance], base: Sequence[Allowance]) -> list[Allowance]:
    """The entries added since the base (the only ones that acknowledge anything)."""
    old = {allowance.change for allowance in base}
    return [allowance for allowance in current if allowance.change not in old]


def _major(version: Any) -> int | None:
    match = re.match(r"^\s*v?(\d+)\.", str(version)) if version is not None else None
    return int(match.group(1)) if match else None


def major_bump(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[str, str] | None:
    """(old, new) `info.version` when the major number went up, else None."""
    old = (before.get("info") or {}).get("version")
    new = (after.get("info") or {}).get("version")
    old_major, new_major = _major(old), _major(new)
    if old_major is None or new_major is None or new_major <= old_major:
        return None
    return str(old), str(new)


@dataclass
class Verdict:
    changes: list[Change]
    acknowledged: dict[Change, str] = field(default_factory=dict)  # breaking change -> what acknowledged it
    unused: list[Allowance] = field(default_factory=list)

    @property
    def unacknowledged(self) -> list[Change]:
        return [c for c in self.changes if c.kind == BREAKING and c not in self.acknowledged]

    @property
    def passed(self) -> bool:
        return not self.unacknowledged


def acknowledge(
    changes: Sequence[Change],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    allowances: Sequence[Allowance],
) -> Verdict:
    verdict = Verdict(list(changes))
    bump = major_bump(before, after)
    used: set[Allowance] = set()
    for change in changes:
        if change.kind != BREAKING:
            continue
        if bump is not None:
            verdict.acknowledged[change] = f"major version {bump[0]} → {bump[1]}"
            continue
        for allowance in allowances:
            if allowance.matches(change.where):
                verdict.acknowledged[change] = f"{ALLOW_FILE}: {allowance.reason}"
                used.add(allowance)
                break
    if bump is None:
        verdict.unused = [allowance for allowance in allowances if allowance not in used]
    return verdict
