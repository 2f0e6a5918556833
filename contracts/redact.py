"""No output or report of a run may contain a credential: every report is scrubbed before it is shown.

Tokens reach text by many paths: a traceback shows a fixture's repr, a Schemathesis case or a request's
headers, a hostile or buggy server echoes the Authorization header in a body the failure quotes, the
captured output of a test holds what it printed. The `Redactor` plugin rewrites every test and
collection report (its failure text and captured sections) before pytest prints it or the JUnit writer
records it, because it runs first (`tryfirst`), and again after Schemathesis rewrites a failure's text
(`pytest_exception_interact`). Its own test runs the gate against a server that
echoes credentials and counts what leaks.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest

MASK = "[REDACTED]"
# Schemathesis' reproducers mask the credential (its default sanitization) inside single quotes, where a
# shell would not expand a variable: they are rewritten to name the run's token variable, paste-able.
FILTERED_AUTH = "'Authorization: [Filtered]'"
PASTEABLE_AUTH = '"Authorization: Bearer $LEADVIBE_TOKEN"'
WITHHELD = "[redaction failed: text withheld]"


class Redactor:
    """Replaces each secret (and its base64 form, as in HTTP Basic) with a mask."""

    def __init__(self, secrets: Iterable[str]) -> None:
        found: set[str] = set()
        for secret in secrets:
            if len(secret) >= 4:  # a shorter "secret" would mask ordinary text
                found |= {secret, base64.b64encode(secret.encode()).decode().rstrip("=")}
        self._secrets = sorted(found, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = text.replace(FILTERED_AUTH, PASTEABLE_AUTH)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def _scrub(self, report: pytest.CollectReport | pytest.TestReport) -> None:
        longrepr: Any = report.longrepr
        if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
            report.longrepr = (longrepr[0], longrepr[1], self(str(longrepr[2])))
        elif longrepr is not None:
            text = str(longrepr)
            if self(text) != text:
                report.longrepr = self(text)
        report.sections = [(title, self(content)) for title, content in report.sections]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._scrub(report)

    @pytest.hookimpl(tryfirst=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._scrub(report)

    @pytest.hookimpl(trylast=True)
    def pytest_exception_interact(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        """Again after Schemathesis' own hook, which rewrites a failure's text after it was logged."""
        self._scrub(report)


def scrubbed(value: Any, redact: Callable[[str], str]) -> Any:
    """A JSON-like value with every string, keys included, redacted: a report's data before it is kept.
    Fails closed: a string whose redaction fails is withheld, never kept in clear; other objects become text."""
    if isinstance(value, str):
        try:
            result = redact(value)
        except Exception:
            return WITHHELD
        return result if isinstance(result, str) else WITHHELD
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {scrubbed(str(key), redact): scrubbed(item, redact) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrubbed(item, redact) for item in value]
    return scrubbed(repr(value), redact)
