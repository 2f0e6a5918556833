"""Rulesets and how they turn a lead's events into scores, score history and a score explanation.

A ruleset credits each event to at most one rule: the first rule with a filter that matches, else the
first unfiltered rule for the event type. A score is the running sum of credited weights, never below
zero. Suppressed (inorganic) events are never scored; after a score reset, only later events count.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mock_server.leads.timeutil import floor_hour

HOUR = timedelta(hours=1)


@dataclass(slots=True)
class Event:
    """One event of a lead; never changed once recorded (slots: a large seed holds millions)."""

    event_id: str
    event_type: str
    at: datetime
    metadata: Mapping[str, Any] = field(default_factory=dict)
    suppressed: bool = False
    written: bool = False  # its time is the server's clock (no timestamp was sent): shown with milliseconds
    sent: bytes | None = None  # an ingested event's metadata as sent, compact JSON (`metadata` keeps what rules read)


@dataclass(frozen=True)
class Rule:
    rule_id: str
    event_type: str
    weight: int
    filter_key: str | None = None
    filter_contains: str | None = None

    @property
    def filter_label(self) -> str | None:
        if self.filter_key is None:
            return None
        return f"{self.filter_key} contains {self.filter_contains}"

    def matches(self, event: Event) -> bool:
        if event.event_type != self.event_type:
            return False
        if self.filter_key is None:
            return True
        value = event.metadata.get(self.filter_key)
        return isinstance(value, str) and (self.filter_contains or "") in value


@dataclass(frozen=True)
class Ruleset:
    ruleset_id: str
    name: str
    primary: bool
    rules: tuple[Rule, ...]
    kind: str = "engagement"  # or "profile" (profile-fit scores)

    def credit(self, event: Event) -> Rule | None:
        """The rule an event is credited to, if any."""
        if event.suppressed:
            return None
        fallback = None
        for rule in self.rules:
            if rule.matches(event):
                if rule.filter_key is not None:
                    return rule
                fallback = fallback or rule
        return fallback

    def weights(self) -> list[tuple[str, int]]:
        """Unfiltered weight per event type, largest absolute weight first."""
        seen: dict[str, int] = {}
        for rule in self.rules:
            if rule.filter_key is None:
                seen.setdefault(rule.event_type, rule.weight)
        return sorted(seen.items(), key=lambda item: (-abs(item[1]), item[0]))


def _step(score: int, weight: int) -> int:
    return max(0, score + weight)


def current_score(ruleset: Ruleset, events: Iterable[Event], reset_at: datetime | None) -> int:
    score = 0
    for event in events:
        if reset_at is not None and event.at < reset_at:
            continue
        rule = ruleset.credit(event)
        if rule is not None:
            score = _step(score, rule.weight)
    return score


def hourly_scores(
    ruleset: Ruleset,
    events: Sequence[Event],
    reset_at: datetime | None,
    start: datetime,
    end: datetime,
) -> Iterator[tuple[datetime, int]]:
    """The score at every full hour in [start, end], as of that instant (events are sorted by time).
    No hour is stepped to past `end`: at the calendar's last hour, that step would overflow."""
    hour = floor_hour(start)
    if hour < start:
        if end - hour < HOUR:
            return
        hour += HOUR
    index = 0
    score = 0
    was_reset = False
    while hour <= end:
        if reset_at is not None and not was_reset and hour >= reset_at:
            # From the reset on, only events at or after it count: start the running sum again.
            was_reset = True
            score = 0
            index = 0
            while index < len(events) and events[index].at < reset_at:
                index += 1
        while index < len(events) and events[index].at <= hour:
            rule = ruleset.credit(events[index])
            if rule is not None:
                score = _step(score, rule.weight)
            index += 1
        yield hour, score
        if end - hour < HOUR:
            return
        hour += HOUR


def score_at(ruleset: Ruleset, events: Sequence[Event], reset_at: datetime | None, moment: datetime) -> int:
    """The score as of an instant (0 before the first event)."""
    return current_score(ruleset, (event for event in events if event.at <= moment), reset_at)


DECAY_EVENT = "DECAY"


@dataclass
class _Driver:
    rule: Rule
    count: int = 0


def explain(
    rulesets: Sequence[Ruleset],
    events: Sequence[Event],
    reset_at: datetime | None,
    start: datetime,
    end: datetime,
    range_hours: int,
) -> dict[str, Any]:
    """The score explanation of the events in [start, end] over the active rulesets (the spec's ScoreExplain).

    Drivers: every crediting rule but decay rules, by absolute contribution; decay summed over rulesets.
    """
    drivers: dict[str, _Driver] = {}
    decay = 0
    inorganic = 0
    excluded = 0
    for event in events:
        if not start <= event.at <= end:
            continue
        if event.suppressed:
            inorganic += 1
            continue
        if reset_at is not None and event.at < reset_at:
            if any(ruleset.credit(event) for ruleset in rulesets):
                excluded += 1
            continue
        for ruleset in rulesets:
            rule = ruleset.credit(event)
            if rule is None:
                continue
            if rule.event_type == DECAY_EVENT:
                decay += min(0, rule.weight)
            elif rule.weight != 0:
                drivers.setdefault(rule.rule_id, _Driver(rule)).count += 1
    ranked = sorted(drivers.values(), key=lambda d: (-abs(d.count * d.rule.weight), d.rule.rule_id))
    top_drivers = []
    for driver in ranked:
        item: dict[str, Any] = {
            "rule_id": driver.rule.rule_id,
            "event_type": driver.rule.event_type,
            "count": driver.count,
            "weight": driver.rule.weight,
            "total": driver.count * driver.rule.weight,
        }
        if driver.rule.filter_label is not None:
            item["filter_label"] = driver.rule.filter_label
        top_drivers.append(item)
    weights: dict[str, int] = {}
    for ruleset in rulesets:
        for name, weight in ruleset.weights():
            weights[name] = weights.get(name, 0) + weight
    snapshot = sorted(weights.items(), key=lambda item: (-abs(item[1]), item[0]))
    return {
        "top_drivers": top_drivers,
        "snapshot": [{"event_type": name, "weight": weight} for name, weight in snapshot],
        "decay_applied": decay,
        "inorganic_count": inorganic,
        "range_hours": range_hours,
        "reset_excluded_count": excluded,
    }
