"""One classified change of the contract: its kind, where it is (a JSON path) and a one-line reason.

Kept apart so that the differ's normalisation (`classify.py`) and the gap rules (`rules.py`) speak the
same type without importing each other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BREAKING = "breaking"
NON_BREAKING = "non-breaking"
ANNOTATION = "annotation-only"
KINDS = (BREAKING, NON_BREAKING, ANNOTATION)

_SHORTHAND = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Path = tuple[str | int, ...]


def json_path(parts: Path) -> str:
    """A JSONPath (RFC 9535 shorthand where it allows it): `$.paths['/lead/{leadID}'].get.responses['200']`."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SHORTHAND.match(part):
            out += f".{part}"
        else:
            out += "['" + part.replace("\\", "\\\\").replace("'", "\\'") + "']"
    return out


@dataclass(frozen=True)
class Change:
    kind: str  # one of KINDS
    path: Path
    reason: str
    source: str = "api-smart-diff"  # or "rule: <name>" when a rule of spec_compat.rules decided

    @property
    def where(self) -> str:
        return json_path(self.path)
