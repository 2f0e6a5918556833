"""The one choke point of a live run: every request Schemathesis sends, by any path, passes here.

Schemathesis sends some requests outside `case.call` (the auth checks' probes, coverage probes), so
guarding only the test's own calls would let them bypass the budget, the rate limit and read-only
mode. Schemathesis picks a schema's transport through its `transport` property; the guarded schema
answers with a transport that counts, throttles and refuses before delegating. Scoped to one schema
object: no process-wide hook.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from schemathesis import BaseSchema

from contracts.client import READ_METHODS, ReadOnlyViolation
from contracts.transient import RetryPolicy

S = TypeVar("S", bound=BaseSchema)


class GuardedTransport:
    """Wraps Schemathesis' transport: read-only refusal, the last safety check, then the run's throttle
    and budget per attempt, with transient answers retried (`contracts.transient`)."""

    def __init__(
        self,
        inner: Any,
        acquire: Callable[[], None],
        retries: RetryPolicy,
        *,
        read_only: bool,
        check: Callable[[Any], None],
        observe: Callable[[Any, int], None] = lambda case, status: None,
        writing: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext,
    ) -> None:
        self._writing = writing
        self._inner = inner
        self._acquire = acquire
        self._retries = retries
        self._read_only = read_only
        self._check = check
        self._observe = observe
        self.sent = 0

    def send(self, case: Any, **kwargs: Any) -> Any:
        if self._read_only and case.method.upper() not in READ_METHODS:
            raise ReadOnlyViolation(f"read-only run: refused to send {case.method} {case.path}")
        self._check(case)  # a write names only leads and aliases the run has proven its own

        quiet = contextlib.nullcontext if case.method.upper() in READ_METHODS else self._writing

        def attempt() -> Any:
            # The rate slot is taken inside the write's turn: a write that waited for a consistency read
            # (contracts.quiet) does not go out in a burst with the others that waited.
            with quiet():
                self._acquire()
                self.sent += 1
                return self._inner.send(case, **kwargs)

        response = self._retries.send(
            f"{case.method} {case.formatted_path}",
            attempt,
            lambda response: response.status_code,
            lambda response: (response.headers.get("retry-after") or [None])[0],
        )
        self._observe(case, response.status_code)  # every request of the case, its probes included
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def guard(schema: S, transport: GuardedTransport) -> S:
    """The same schema, whose every request goes through `transport` (clones keep it: same class)."""
    base = type(schema)
    guarded = type(f"Guarded{base.__name__}", (base,), {"transport": property(lambda self: transport)})
    schema.__class__ = guarded
    return schema
