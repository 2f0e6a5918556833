"""How a caller hands the suite its target: a pytest plugin object, not the environment.

`pytest.main([...], plugins=[TargetPlugin(target)])` runs the suite against `target`; with `app`, an
in-process WSGI app (a variant of the mock) is the target instead of a fresh mock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from contracts.target import Target


@dataclass(frozen=True)
class TargetPlugin:
    target: Target
    app: Any = None
    reset: Callable[[], None] | None = None

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[TARGET_KEY] = self


TARGET_KEY = pytest.StashKey[TargetPlugin]()
