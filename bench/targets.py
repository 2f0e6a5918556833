"""The servers under test, as `Launch` recipes, and what they need before they can start.

- the mock as users run it: the `leadvibe-mock` console script (granian embedded, one process, one
  Python thread), with the shipped seed or with a generated 100,000-lead seed;
- Prism's static mock of the same spec, installed with npm into .cache/npm-tools at its pinned version
  on first use, so every machine compares the mock with the same Prism (nothing is assumed installed by
  hand besides node and npm).

The large seed is generated once into bench/.cache/; its file name carries a hash of the generator's
source, so a changed generator yields a new seed instead of a stale one.

The mock's server was chosen by measurement (granian against waitress and gunicorn, then uvicorn against
granian, then granian embedded against uvicorn); those comparisons were removed once decided, and their
results are kept in docs/measurements.md (Why granian, embedded, with one thread).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from bench.common import CACHE_DIR, REPO_ROOT, SPEC_PATH, MissingPrerequisite, say
from bench.load import AUTH_HEADERS, GET_LEAD
from bench.processes import Launch
from devtools import npm

PRISM = "Prism"
PRISM_PACKAGE = "@stoplight/prism-cli"  # its exact version is pinned in devtools/npm.py

LARGE_SEED_LEADS = 100_000
_GENERATOR = REPO_ROOT / "devtools" / "seedgen.py"
_SEED_ARGS = ["--leads", str(LARGE_SEED_LEADS), "--format", "json", "--max-events", "5"]

# The venv's console scripts sit beside its python (not resolved: a venv's python is a symlink).
_BIN = Path(sys.executable).parent
# Loading 100,000 leads takes minutes on a busy 2-core machine.
LARGE_SEED_TIMEOUT_S = 300.0


def mock_cli(name: str, seed: Path | None = None, options: tuple[str, ...] = ()) -> Launch:
    """`leadvibe-mock` as users run it (granian, one process, one Python thread, the request log and the
    journal on: its defaults), with
    further `options` (e.g. `--delay 150`)."""

    def command(port: int) -> list[str]:
        argv = [
            str(_BIN / "leadvibe-mock"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        # No --quiet: the request log is written (to the bench's log file), as users run it.
        return [*argv, *(["--seed", str(seed)] if seed is not None else []), *options]

    return Launch(name, command, ready_timeout_s=60.0 if seed is None else LARGE_SEED_TIMEOUT_S)


def prism(executable: Path) -> Launch:
    """Prism's static mock of the same spec. `--verboseLevel warn` drops its per-request log lines (eight
    per request at the default `info`), which would otherwise halve its throughput; the rest goes to the log.
    It has no health endpoint, so readiness is the first 200 for GET /lead/ld_123."""

    def command(port: int) -> list[str]:
        return [
            str(executable),
            "mock",
            str(SPEC_PATH),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--verboseLevel",
            "warn",
        ]

    return Launch(PRISM, command, ready_path=GET_LEAD.path, ready_headers=tuple(AUTH_HEADERS.items()))


def ensure_prism() -> Path:
    """The `prism` executable of the pinned Prism, installed with the project's other npm tools on first use."""
    try:
        return npm.ensure(PRISM_PACKAGE) / "prism"
    except npm.MissingTool as exc:
        raise MissingPrerequisite(f"Prism: {exc}") from exc


def large_seed() -> Path:
    """The path of the 100,000-lead JSON seed, generated with devtools.seedgen if not cached."""
    digest = hashlib.sha256(_GENERATOR.read_bytes() + " ".join(_SEED_ARGS).encode()).hexdigest()[:12]
    path = CACHE_DIR / f"seed-{LARGE_SEED_LEADS}-{digest}.json"
    if path.exists():
        return path
    say(f"generating the {LARGE_SEED_LEADS:,}-lead seed into {path.name} (once, ~30 s)")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        subprocess.run([sys.executable, "-m", "devtools.seedgen", *_SEED_ARGS], cwd=REPO_ROOT, stdout=out, check=True)
    partial.replace(path)  # atomic: an interrupted run leaves no truncated seed behind
    for stale in CACHE_DIR.glob(f"seed-{LARGE_SEED_LEADS}-*.json"):
        if stale != path:
            stale.unlink()
    return path
