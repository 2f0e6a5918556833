"""The maintained differ, api-smart-diff (npm), installed on first use and run over pairs of specs.

Why api-smart-diff: it was compared with @useoptic/optic 1.0.9 on the same edits of openapi.yaml (docs/contract.md,
Contract evolution). Optic crashes on Node 20 unless its nested ajv is overridden, rejects the spec's
links unless validation is loose, installs 633 packages in about 2 minutes, and missed narrowed limits and
every security change; api-smart-diff is 3 packages installed in seconds, reads OpenAPI 3.1 as it is, and
reports each change with its JSON path. Its gaps are filled by `spec_compat.rules`.

The npm tree is pinned by `spec_compat/npm/package-lock.json` and installed with `npm ci` into a cache
folder (`.cache/spec-compat/`, or $SPEC_COMPAT_CACHE), never globally; a stamp holding the lockfile's hash
makes a changed lockfile reinstall. The specs are parsed in Python and handed to node as JSON.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
NPM_DIR = Path(__file__).with_name("npm")
RUNNER = Path(__file__).with_name("diff.cjs")
TOOL = "api-smart-diff"
CACHE_ENV = "SPEC_COMPAT_CACHE"
# npm ci of three packages takes seconds; a slow registry gets a bound, never a hang.
INSTALL_TIMEOUT_S = 300.0
RUN_TIMEOUT_S = 300.0


class DifferUnavailable(Exception):
    """node or npm is missing, or the pinned differ could not be installed or run."""


@dataclass(frozen=True)
class ToolDiff:
    """One change as api-smart-diff reports it."""

    action: str  # add | remove | replace | rename
    path: tuple[str | int, ...]
    type: str  # breaking | non-breaking | annotation | unclassified | deprecated
    description: str
    before: Any = None
    after: Any = None


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or REPO_ROOT / ".cache" / "spec-compat")


def tool_version() -> str:
    lock = json.loads((NPM_DIR / "package-lock.json").read_text(encoding="utf-8"))
    version: str = lock["packages"][f"node_modules/{TOOL}"]["version"]
    return version


def _lock_digest() -> str:
    return hashlib.sha256((NPM_DIR / "package-lock.json").read_bytes()).hexdigest()


def ensure_installed() -> Path:
    """The node_modules folder holding the pinned differ, installed with `npm ci` when missing or stale."""
    target = cache_dir()
    modules = target / "node_modules"
    stamp = target / ".installed"
    digest = _lock_digest()
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == digest and (modules / TOOL).is_dir():
        return modules
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise DifferUnavailable(f"{TOOL} needs node and npm, which are not on PATH (install Node.js 18 or later)")
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once install once
        if stamp.is_file() and stamp.read_text(encoding="utf-8") == digest and (modules / TOOL).is_dir():
            return modules
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(NPM_DIR / name, target / name)
        command = [npm, "ci", "--prefix", str(target), "--ignore-scripts", "--no-audit", "--no-fund"]
        try:
            done = subprocess.run(
                [*command, "--loglevel=error"],
                capture_output=True,
                text=True,
                check=False,
                timeout=INSTALL_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            raise DifferUnavailable(f"npm ci of {TOOL} took over {INSTALL_TIMEOUT_S:g} s") from exc
        if done.returncode != 0 or not (modules / TOOL).is_dir():
            raise DifferUnavailable(f"npm could not install {TOOL} {tool_version()}:\n{done.stderr.strip()}")
        stamp.write_text(digest, encoding="utf-8")
    return modules


def compare_many(pairs: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> list[list[ToolDiff]]:
    """The differ's diffs of each (before, after) pair, in one node process (it starts in about 0.1 s,
    but the tests compare some thirty pairs)."""
    modules = ensure_installed()
    node = shutil.which("node")
    if node is None:
        raise DifferUnavailable("node is not on PATH")
    payload = json.dumps({"pairs": [[dict(before), dict(after)] for before, after in pairs]}, default=str)
    try:
        done = subprocess.run(
            [node, str(RUNNER)],
            input=payload,
            capture_output=True,
            text=True,
            check=False,
            timeout=RUN_TIMEOUT_S,
            env={**os.environ, "NODE_PATH": str(modules)},
        )
    except subprocess.TimeoutExpired as exc:
        raise DifferUnavailable(f"{TOOL} took over {RUN_TIMEOUT_S:g} s") from exc
    if done.returncode != 0:
        raise DifferUnavailable(f"{TOOL} failed:\n{done.stderr.strip()[-2000:]}")
    return [[_tool_diff(raw) for raw in diffs] for diffs in json.loads(done.stdout)]


def compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[ToolDiff]:
    return compare_many([(before, after)])[0]


def _tool_diff(raw: Mapping[str, Any]) -> ToolDiff:
    return ToolDiff(
        action=str(raw["action"]),
        path=tuple(raw["path"]),
        type=str(raw["type"]),
        description=str(raw.get("description") or ""),
        before=raw.get("before"),
        after=raw.get("after"),
    )
