"""Simulated slowness and failure: latency and a failure rate, globally, per operation, per request.

Why here and not in Flask: the app runs one request at a time on one Python thread, so a `time.sleep`
there would delay every client. The serving layer (`serving.py`) awaits the delay on the event loop, and
only then runs the app; a chosen failure is handed to the app (`FAIL_KEY` in the environ) so that the
failure still carries CORS headers a browser can read. A dropped connection is done by the serving layer.

Precedence: the request's headers (`X-Mock-Delay`, `X-Mock-Fail`), then the operation's rule set at run
time through `/_mock/chaos/<operationId>`, then the global rule (CLI options or `PUT /_mock/chaos`).
A simulated failure changes no state.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace
from typing import Any

from mock_server.api.numbers import whole_number
from mock_server.api.problems import ApiProblem, FieldError

DELAY_HEADER = "x-mock-delay"
FAIL_HEADER = "x-mock-fail"
FAIL_KEY = "leadvibe.fail"
DROP = "drop"  # the head and half the body, then the connection closes
EMPTY = "empty"  # the head, then the connection closes before a byte of the body
CHUNK = "chunk"  # a chunked body that breaks off mid-chunk
DRIBBLE = "dribble"  # the real answer, its body sent slowly, a piece at a time (not a failure)
# Done by the serving layer on the connection; all but DRIBBLE answer a stand-in that changes no state.
CONNECTION_FAULTS = (DROP, EMPTY, CHUNK, DRIBBLE)
MAX_DELAY_MS = 60_000
RETRY_AFTER_SECONDS = 2
_DELAY = re.compile(r"^\s*(\d{1,6})\s*(?:-\s*(\d{1,6})\s*)?$")


class ChaosError(ValueError):
    """A delay or failure setting that cannot be understood."""


def parse_delay(text: str) -> tuple[int, int]:
    """`300` (ms) or `100-800` (a random delay in that range, uniformly)."""
    match = _DELAY.match(text)
    if not match:
        raise ChaosError(f"delay {text!r} is not milliseconds ('300') or a range ('100-800')")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if high < low or high > MAX_DELAY_MS:
        raise ChaosError(f"delay {text!r}: the range must be ordered and at most {MAX_DELAY_MS} ms")
    return low, high


def parse_failure(given: object) -> int | str:
    """A status 400-599, or a fault of the connection (`drop`, `empty`, `chunk`, `dribble`)."""
    if isinstance(given, str) and given.strip().lower() in CONNECTION_FAULTS:
        return given.strip().lower()
    status = whole_number(given, 400, 599)
    if status is None:
        raise ChaosError(
            f"failure {str(given)[:20]!r} is not a status 400-599 or one of {', '.join(CONNECTION_FAULTS)}"
        )
    return status


@dataclass
class Rule:
    """Latency (a range in ms) and a failure rate with the statuses to fail with (chosen at random)."""

    delay_ms: tuple[int, int] = (0, 0)
    fail_rate: float = 0.0
    fail_with: tuple[int | str, ...] = (500, 503)  # also the CLI's default (--fail-with)
    times: int | None = None  # the requests it still governs; then it is gone ("fail the next 2 calls")
    path: re.Pattern[str] | None = None  # only requests whose whole path matches this expression
    lead: str | None = None  # only requests with this lead id as a path segment

    def applies(self, path: str) -> bool:
        if self.path is not None and not self.path.fullmatch(path):
            return False
        return self.lead is None or self.lead in path.split("/")

    @property
    def active(self) -> bool:
        return self.delay_ms != (0, 0) or self.fail_rate > 0

    @classmethod
    def from_json(cls, body: Any, base: Rule | None = None) -> Rule:
        """A rule from the admin API: `{"delay": "100-800", "fail_rate": 0.2, "fail_with": [503, "drop"]}`.
        What the body leaves out is `base`'s (the rule in force): setting a delay keeps a failure rate."""
        if not isinstance(body, dict) or set(body) - {"delay", "fail_rate", "fail_with", "times", "path", "lead"}:
            raise ChaosError("expected an object with 'delay', 'fail_rate', 'fail_with', 'times', 'path', 'lead'")
        rule = replace(base) if base is not None else cls()
        if "delay" in body:
            rule.delay_ms = parse_delay(str(body["delay"]))
        if "fail_rate" in body:
            rate = body["fail_rate"]
            if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
                raise ChaosError("fail_rate must be a number from 0 to 1")
            rule.fail_rate = float(rate)
        if "fail_with" in body:
            statuses = body["fail_with"]
            if not isinstance(statuses, list) or not statuses:
                raise ChaosError("fail_with must be a non-empty list of statuses or 'drop'")
            rule.fail_with = tuple(parse_failure(status) for status in statuses)
        if "times" in body:
            rule.times = None if body["times"] is None else whole_number(body["times"], 1, 10**9)
            if body["times"] is not None and rule.times is None:
                raise ChaosError("times must be a whole number from 1 (or null: for ever)")
        if "path" in body:
            rule.path = _pattern(body["path"])
        if "lead" in body:
            if body["lead"] is not None and (not isinstance(body["lead"], str) or not 0 < len(body["lead"]) <= 200):
                raise ChaosError("lead must be a lead id (or null: any)")
            rule.lead = body["lead"]
        return rule

    def to_json(self) -> dict[str, Any]:
        low, high = self.delay_ms
        shown: dict[str, Any] = {
            "delay": f"{low}" if low == high else f"{low}-{high}",
            "fail_rate": self.fail_rate,
            "fail_with": list(self.fail_with),
        }
        if self.times is not None:
            shown["times"] = self.times
        if self.path is not None:
            shown["path"] = self.path.pattern
        if self.lead is not None:
            shown["lead"] = self.lead
        return shown

    def describe(self) -> str:
        """One line for the banner: `delay 200 ms, fail_rate 0.1 (500, 503)`."""
        low, high = self.delay_ms
        delay = f"delay {low} ms" if low == high else f"delay {low}-{high} ms"
        failures = ", ".join(map(str, self.fail_with))
        return f"{delay}, fail_rate {self.fail_rate:g} ({failures})"


@dataclass
class Chaos:
    """The global rule and the per-operation ones; `decide` is what one request gets."""

    rule: Rule = field(default_factory=Rule)
    operations: dict[str, Rule] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @property
    def active(self) -> bool:
        """Whether any rule could apply: the plain path checks only this (and the two headers)."""
        return self.rule.active or bool(self.operations)

    def to_json(self) -> dict[str, Any]:
        """The rules in force, as `/_mock/chaos` and `/_mock/health` show them."""
        return {
            "all": self.rule.to_json(),
            "operations": {name: rule.to_json() for name, rule in self.operations.items()},
        }

    def decide(
        self, operation_id: str | None, delay_header: str | None, fail_header: str | None, path: str = "/"
    ) -> tuple[float, int | str | None]:
        """(seconds to wait, the failure or None) for one request; a bad header is a 400 problem. A rule
        aimed at a path or a lead that the request does not match gives way (to the global rule, or none)."""
        rule = self.operations.get(operation_id or "", self.rule)
        if not rule.applies(path):
            rule = self.rule if rule is not self.rule and self.rule.applies(path) else Rule()
        self._count(operation_id, rule)
        try:
            low, high = parse_delay(delay_header) if delay_header is not None else rule.delay_ms
            failure = parse_failure(fail_header) if fail_header is not None else None
        except ChaosError as exc:
            name = "X-Mock-Delay" if delay_header is not None and "delay" in str(exc) else "X-Mock-Fail"
            raise ApiProblem(400, "validation-error", str(exc), errors=[FieldError("header", name, str(exc))]) from None
        if failure is None and rule.fail_rate and self.rng.random() < rule.fail_rate:
            failure = self.rng.choice(rule.fail_with)
        delay = low if low == high else self.rng.uniform(low, high)
        return delay / 1000, failure

    def _count(self, operation_id: str | None, rule: Rule) -> None:
        """One more request governed by a rule with `times`; after the last, the rule is gone."""
        if rule.times is None:
            return
        rule.times -= 1
        if rule.times > 0:
            return
        if rule is self.rule:
            self.rule = Rule()
        else:
            self.operations.pop(operation_id or "", None)


def _pattern(given: object) -> re.Pattern[str] | None:
    if given is None:
        return None
    if not isinstance(given, str) or not 0 < len(given) <= 500:
        raise ChaosError("path must be a regular expression of the whole path, e.g. '/lead/ld_12[0-9]' (or null)")
    try:
        return re.compile(given)
    except re.error as exc:
        raise ChaosError(f"path is not a regular expression: {exc}") from None


def failure_problem(status: int) -> ApiProblem:
    """The problem document of a simulated failure; 429 and 503 say when to retry."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status in (429, 503) else {}
    slug = {500: "internal-error", 503: "service-unavailable", 429: "too-many-requests"}.get(status, "simulated")
    return ApiProblem(
        status, slug, f"A failure simulated by the mock ({status}); nothing was changed.", headers=headers
    )
