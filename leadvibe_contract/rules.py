"""Rules between parameters, stated once in openapi.yaml (`x-parameter-rules` on an operation).

JSON Schema judges one parameter at a time; these rules judge them together. The mock enforces them
(a broken rule is a 400), the gate checks that a server does, and the gate's expected statuses for
schema-valid requests follow from them. Each rule compares values the caller has already typed
(numbers, aware datetimes): the mock and the gate each parse requests with their own code.

Kinds:
- `ordered: [low, high]`: `low` must not be greater than `high`. With `high-default: now`, a missing
  `high` stands for the server's current time.
- `exclusive: [[a, ...], [b, ...]]`: parameters of the first group may not be sent with any of the second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

RULES_KEY = "x-parameter-rules"


class RuleError(ValueError):
    """An `x-parameter-rules` entry the contract cannot use."""


@dataclass(frozen=True)
class Broken:
    """A rule the request breaks: which parameters, and a sentence a client can act on."""

    names: tuple[str, ...]
    detail: str


class Ambiguous:
    """Whether the rule holds depends on the server's clock (a value within the clock skew of now)."""


AMBIGUOUS = Ambiguous()
Verdict = Broken | Ambiguous | None


@dataclass(frozen=True)
class Ordered:
    low: str
    high: str
    high_defaults_to_now: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (self.low, self.high)

    def check(self, given: Mapping[str, Any], now: datetime, skew: timedelta = timedelta(0)) -> Verdict:
        low = given.get(self.low)
        if low is None:
            return None
        high = given.get(self.high)
        if high is None and self.high_defaults_to_now and isinstance(low, datetime):
            if low > now + skew:
                return Broken((self.low,), f"'{self.low}' must not be in the future when '{self.high}' is not sent")
            return AMBIGUOUS if skew and low > now - skew else None
        if high is None or (type(low) is not type(high) and not _both_numbers(low, high)):
            return None
        if low > high:
            return Broken(
                self.names, f"'{self.low}' ({_show(low)}) must not be greater than '{self.high}' ({_show(high)})"
            )
        return None


@dataclass(frozen=True)
class Exclusive:
    first: tuple[str, ...]
    second: tuple[str, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return (*self.first, *self.second)

    def check(self, given: Mapping[str, Any], now: datetime, skew: timedelta = timedelta(0)) -> Verdict:
        one = [name for name in self.first if given.get(name) is not None]
        other = [name for name in self.second if given.get(name) is not None]
        if one and other:
            return Broken((*one, *other), f"'{one[0]}' cannot be combined with {' or '.join(repr(n) for n in other)}")
        return None


Rule = Ordered | Exclusive


def _both_numbers(low: Any, high: Any) -> bool:
    return isinstance(low, int | float) and isinstance(high, int | float)


def _show(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else str(value)


def _names(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not all(isinstance(n, str) for n in raw):
        raise RuleError(f"{where}: expected a list of parameter names, got {raw!r}")
    return tuple(raw)


def parse_rules(operation: Mapping[str, Any], parameter_names: set[str], where: str) -> tuple[Rule, ...]:
    """The rules an operation declares; every name must be a parameter of that operation."""
    rules: list[Rule] = []
    for index, raw in enumerate(operation.get(RULES_KEY, [])):
        at = f"{where} {RULES_KEY}[{index}]"
        rule: Rule
        if isinstance(raw, Mapping) and "ordered" in raw:
            names = _names(raw["ordered"], at)
            if len(names) != 2:
                raise RuleError(f"{at}: 'ordered' takes two parameter names")
            default = raw.get("high-default")
            if default not in (None, "now"):
                raise RuleError(f"{at}: 'high-default' can only be 'now'")
            rule = Ordered(names[0], names[1], high_defaults_to_now=default == "now")
        elif isinstance(raw, Mapping) and "exclusive" in raw:
            groups = raw["exclusive"]
            if not isinstance(groups, Sequence) or len(groups) != 2:
                raise RuleError(f"{at}: 'exclusive' takes two groups of parameter names")
            rule = Exclusive(_names(groups[0], at), _names(groups[1], at))
        else:
            raise RuleError(f"{at}: unknown rule {raw!r} (known: ordered, exclusive)")
        unknown = set(rule.names) - parameter_names
        if unknown:
            raise RuleError(f"{at}: {sorted(unknown)} are not parameters of this operation")
        rules.append(rule)
    return tuple(rules)


def broken_rules(rules: Sequence[Rule], given: Mapping[str, Any], now: datetime) -> list[Broken]:
    """Every rule the values break (the mock reports them all at once)."""
    return [found for rule in rules if isinstance(found := rule.check(given, now), Broken)]


def first_broken(
    rules: Sequence[Rule], given: Mapping[str, Any], now: datetime, skew: timedelta = timedelta(0)
) -> Verdict:
    """The first rule the values break; AMBIGUOUS if none is broken but one depends on the clock."""
    verdict: Verdict = None
    for rule in rules:
        found = rule.check(given, now, skew)
        if isinstance(found, Broken):
            return found
        verdict = verdict or found
    return verdict
