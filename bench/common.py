"""What every part of the benchmark shares: where things are, progress lines, and what it ran on.

Paths are resolved from this package, so the bench runs from any checkout. Progress lines go to stderr,
so stdout carries the report alone. The environment (date, cores, load, versions) is recorded with
every report; the load average is kept because this machine may be shared: a busy neighbour shows up
there first.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SPEC_PATH = REPO_ROOT / "openapi.yaml"
# Tools and data made on first use; git-ignored, removed by `make clean`.
CACHE_DIR = BENCH_DIR / ".cache"
LOG_DIR = CACHE_DIR / "logs"
REPORT_DIR = REPO_ROOT / "reports"

_PACKAGES = ("granian", "uvloop", "Flask", "Werkzeug")


class MissingPrerequisite(Exception):
    """A tool the benchmark needs is missing and could not be installed; `python -m bench` exits 2."""


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass
class Environment:
    date: str
    nproc: int
    cpu: str
    python: str
    packages: dict[str, str]
    wrk: str
    node: str | None
    prism: str | None
    load_before: str
    load_after: str = ""


def capture(wrk: str | None, prism: Path | None) -> Environment:
    return Environment(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        nproc=len(os.sched_getaffinity(0)),  # what `nproc` prints
        cpu=_cpu_model(),
        python=platform.python_version(),
        packages={name: metadata.version(name) for name in _PACKAGES},
        wrk=_first_line([wrk, "--version"]) if wrk else "not used",
        node=_first_line(["node", "--version"]) if prism else None,
        prism=_first_line([str(prism), "--version"]) if prism else None,
        load_before=load_average(),
    )


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def _first_line(command: list[str]) -> str:
    """The first output line of a version command (wrk prints its version with a usage error)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0].split(" Copyright")[0].strip() if lines else "unknown"
