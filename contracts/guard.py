"""The one choke point of a live run: every request Schemathesis sends, by any path, passes here.

Schemathesis sends some requests outside `case.call` (the auth checks' probes, coverage probes), so
guarding only the test's own calls would let them bypass the budget, the rate limit and read-only
mode. Schemathesis picks a schema's transport through its `transport` property; the guarded schema
answers with a transport that counts, throttles and refuses before delegating. Scoped to one schema
object: no process-wide hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from schemathesis import BaseSchema

from contracts.client import READ_METHODS, ReadOnlyViolation

S = TypeVar("S", bound=BaseSchema)


class GuardedTransport:
    """Wraps Schemathesis' transport: read-only refusal, then the run's throttle and budget."""

    def __init__(self, inner: Any, acquire: Callable[[], None], *, read_only: bool) -> None:
        self._inner = inner
        self._acquire = acquire
        self._read_only = read_only
        self.sent = 0

    def send(self, case: Any, **kwargs: Any) -> Any:
        if self._read_only and case.method.upper() not in READ_METHODS:
            raise ReadOnlyViolation(f"read-only run: refused to send {case.method} {case.path}")
        self._acquire()
        self.sent += 1
        return self._inner.send(case, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def guard(schema: S, transport: GuardedTransport) -> S:
    """The same schema, whose every request goes through `transport` (clones keep it: same class)."""
    base = type(schema)
    guarded = type(f"Guarded{base.__name__}", (base,), {"transport": property(lambda self: transport)})
    schema.__class__ = guarded
    return schema
