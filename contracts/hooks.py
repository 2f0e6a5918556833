"""Schemathesis hooks of a live run: every generated request is throttled, counted, and made safe.

`before_call` is where Schemathesis expects edits to a case: it re-validates the case afterwards, so a
rewritten request is still judged as the positive or negative case it now is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis

from contracts.safety import LiveSafety

_guard: dict[str, Any] = {"safety": None, "acquire": None}


def install(safety: LiveSafety, acquire: Callable[[], None] | None) -> None:
    _guard["safety"], _guard["acquire"] = safety, acquire


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    if _guard["acquire"] is not None:
        _guard["acquire"]()
    if _guard["safety"] is not None:
        _guard["safety"].prepare(case)


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    if _guard["safety"] is not None:
        _guard["safety"].observe(case, response.status_code)
