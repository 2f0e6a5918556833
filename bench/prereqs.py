"""The external tools the benchmark needs, installed on first use: wrk (Debian) and Prism (npm).

Nothing installed by hand is assumed besides node and npm. Prism goes into bench/.cache/prism at an
exact version, so every machine compares the mock with the same Prism.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.console import say
from bench.layout import CACHE_DIR

PRISM_PACKAGE = "@stoplight/prism-cli"
PRISM_VERSION = "5.16.0"
PRISM_DIR = CACHE_DIR / "prism"


class MissingPrerequisite(Exception):
    """A tool the benchmark needs is missing and could not be installed; `python -m bench` exits 2."""


def ensure_wrk() -> str:
    """The path of wrk, installed with apt-get when missing and running as root."""
    found = shutil.which("wrk")
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise MissingPrerequisite(
            "wrk is not installed and cannot be installed from here (needs root and apt-get); "
            "install it (Debian: `sudo apt-get install wrk`) and rerun"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "install", "-y", "wrk"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "wrk"],
    ):
        say(" ".join(command))
        subprocess.run(command, env=env, stdout=sys.stderr, stderr=sys.stderr, check=False)
        found = shutil.which("wrk")
        if found is not None:
            return found
    raise MissingPrerequisite("wrk is missing and `apt-get install -y wrk` did not install it")


def ensure_prism() -> Path:
    """The `prism` executable of the pinned Prism version, installed with npm on first use."""
    prism = PRISM_DIR / "node_modules" / ".bin" / "prism"
    if prism.exists() and installed_prism_version() == PRISM_VERSION:
        return prism
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise MissingPrerequisite("Prism needs node and npm, which are not on PATH; install Node.js 18 or later")
    say(f"installing {PRISM_PACKAGE}@{PRISM_VERSION} into {PRISM_DIR} (once)")
    PRISM_DIR.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(PRISM_DIR),
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",  # Prism is plain JavaScript; the only install script is a telemetry ping
            "--loglevel=error",
            "--save-exact",
            f"{PRISM_PACKAGE}@{PRISM_VERSION}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not prism.exists():
        raise MissingPrerequisite(f"npm could not install {PRISM_PACKAGE}@{PRISM_VERSION}:\n{done.stderr.strip()}")
    return prism


def installed_prism_version() -> str | None:
    manifest = PRISM_DIR / "node_modules" / PRISM_PACKAGE / "package.json"
    try:
        version: str = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    except (OSError, ValueError, KeyError):
        return None
    return version
