"""The npm tools pointed at the spec, at exact versions, installed into .cache/npm-tools on first use.

Nothing is assumed installed by hand besides node and npm, and nothing is installed globally: every
machine lints and generates with the same versions. Once the pinned versions are in the cache folder, no
npm command runs at all, so the linters and the generator tests work offline after the first install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / ".cache" / "npm-tools"
NODE_MODULES = CACHE_DIR / "node_modules"

# package -> exact version. openapi-typescript 7 wants TypeScript 5 (TypeScript 7 is the native port).
PINS = {
    "@stoplight/spectral-cli": "6.16.3",
    "@stoplight/spectral-owasp-ruleset": "2.0.1",
    "@redocly/cli": "2.77.0",
    "openapi-typescript": "7.13.0",
    "typescript": "5.9.3",
    "@stoplight/prism-cli": "5.16.0",  # `make bench`: the mock beside Prism
}


class MissingTool(Exception):
    """node or npm is missing, or npm could not install a pinned package (e.g. offline on first use)."""


def say(message: str) -> None:
    print(f"npm-tools: {message}", file=sys.stderr, flush=True)


def installed_version(package: str) -> str | None:
    try:
        manifest = json.loads((NODE_MODULES / package / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = manifest.get("version")
    return version if isinstance(version, str) else None


def ensure(*packages: str) -> Path:
    """The cache's node_modules/.bin, after installing whichever of `packages` is missing or at another
    version (all of them in one npm call). Raises MissingTool with the reason when that is impossible."""
    unknown = set(packages) - set(PINS)
    if unknown:
        raise ValueError(f"not pinned in devtools/npm.py: {sorted(unknown)}")
    missing = [package for package in packages if installed_version(package) != PINS[package]]
    if missing:
        npm = shutil.which("npm")
        if npm is None or shutil.which("node") is None:
            raise MissingTool("node and npm are not on PATH; install Node.js 20.19 or later")
        specs = [f"{package}@{PINS[package]}" for package in missing]
        say(f"installing {' '.join(specs)} into {CACHE_DIR.relative_to(REPO_ROOT)} (once)")
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(CACHE_DIR),
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",  # plain JavaScript tools; their install scripts are telemetry pings
                "--loglevel=error",
                "--save-exact",
                *specs,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        still = [package for package in missing if installed_version(package) != PINS[package]]
        if done.returncode != 0 or still:
            raise MissingTool(f"npm could not install {' '.join(specs)}:\n{done.stderr.strip()}")
    return NODE_MODULES / ".bin"


def node_env() -> dict[str, str]:
    """The environment for the tools: packages resolved from the cache (Spectral finds the OWASP ruleset
    named in .spectral.yaml there instead of fetching it), no telemetry, no update notices."""
    return {
        **os.environ,
        "NODE_PATH": str(NODE_MODULES),
        "REDOCLY_TELEMETRY": "off",
        "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
        "NO_UPDATE_NOTIFIER": "1",
        "NO_COLOR": "1",
    }
