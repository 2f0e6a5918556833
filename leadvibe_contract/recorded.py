"""The recording folder (`leadvibe-mock --proxy URL --record DIR`): written by the mock's proxy
(`mock_server/proxy/recording.py`), replayed by the gate (`contracts/replay.py`); the file names and readers
live here so that neither imports the other."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EXCHANGES = "exchanges.jsonl"  # one exchange per line, in order
SEED = "seed.yaml"  # the mock's seed format
MANIFEST = "recording.json"  # what was recorded, and the mock token that sees its leads


def read_exchanges(directory: Path) -> list[dict[str, Any]]:
    entries = []
    for line in (directory / EXCHANGES).read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a kill
    return entries


def read_manifest(directory: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    return manifest
