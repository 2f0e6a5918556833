"""The large seed of the list-flatness and memory runs, generated once into bench/.cache/.

Its file name carries a hash of the generator's source, so a changed generator yields a new seed
instead of a stale one.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from bench.console import say
from bench.layout import CACHE_DIR, REPO_ROOT

LARGE_SEED_LEADS = 100_000
_GENERATOR = REPO_ROOT / "mock_server" / "seedgen.py"
_ARGS = ["--leads", str(LARGE_SEED_LEADS), "--format", "json", "--max-events", "5"]


def large_seed() -> Path:
    """The path of the 100,000-lead JSON seed, generated with mock_server.seedgen if not cached."""
    digest = hashlib.sha256(_GENERATOR.read_bytes() + " ".join(_ARGS).encode()).hexdigest()[:12]
    path = CACHE_DIR / f"seed-{LARGE_SEED_LEADS}-{digest}.json"
    if path.exists():
        return path
    say(f"generating the {LARGE_SEED_LEADS:,}-lead seed into {path.name} (once, ~30 s)")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        subprocess.run([sys.executable, "-m", "mock_server.seedgen", *_ARGS], cwd=REPO_ROOT, stdout=out, check=True)
    partial.replace(path)  # atomic: an interrupted run leaves no truncated seed behind
    for stale in CACHE_DIR.glob(f"seed-{LARGE_SEED_LEADS}-*.json"):
        if stale != path:
            stale.unlink()
    return path
