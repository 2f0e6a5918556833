"""The linters' configuration keeps its promises: every rule switched off says why, every npm tool is exact.

`make lint-spec` passing says nothing about how it passes: a rule switched off without a reason hides a
finding from the next reader, and a version range would lint with whatever npm resolves that day.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from devtools import npm

SPECTRAL = Path(npm.REPO_ROOT) / ".spectral.yaml"
EXACT = re.compile(r"^\d+\.\d+\.\d+$")


def _reason(lines: list[str], index: int) -> str:
    """The comment that explains switching off the rule on line `index`: on its line or the line above
    for a rule of `rules:`, the comment right above its `- files:` for a rule inside an override block."""
    own = lines[index].partition("#")[2].strip()
    if lines[index].startswith("      "):
        opening = max(i for i in range(index) if lines[i].startswith("  - files:"))
        above = lines[opening - 1].strip()
    else:
        above = lines[index - 1].strip()
    return own or (above[1:].strip() if above.startswith("#") else "")


def test_every_rule_switched_off_says_why() -> None:
    lines = SPECTRAL.read_text(encoding="utf-8").splitlines()
    switched_off = [index for index, line in enumerate(lines) if re.search(r":\s*off\b", line)]
    assert len(switched_off) >= 10
    for index in switched_off:
        assert _reason(lines, index), f".spectral.yaml:{index + 1}: {lines[index].strip()} gives no reason"


def test_overrides_name_places_that_exist_in_the_spec() -> None:
    """An override pointing at a schema that was renamed would silently switch off nothing (or too much)."""
    ruleset = yaml.safe_load(SPECTRAL.read_text(encoding="utf-8"))
    document = yaml.safe_load((Path(npm.REPO_ROOT) / "openapi.yaml").read_text(encoding="utf-8"))
    places = [place for override in ruleset["overrides"] for place in override["files"]]
    assert places
    for place in places:
        file, _, pointer = place.partition("#")
        assert file == "openapi.yaml", place
        node = document
        for part in pointer.strip("/").split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            node = node[int(key)] if isinstance(node, list) else node[key]


def test_every_npm_tool_is_pinned_exactly() -> None:
    assert npm.PINS
    for package, version in npm.PINS.items():
        assert EXACT.match(version), f"{package}@{version}"
