"""The version of openapi.yaml (and of the allow-list) a change is judged against.

A file, or a git ref; by default the merge base of HEAD with `main` (else `origin/main`), which is the
version on main for a branch, and HEAD itself on main. CI passes `--base HEAD~1` (the previous commit of
main); .ci/run checks that it exists first (a first commit or a shallow clone has none).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_BRANCHES = ("main", "origin/main")


class BaseError(Exception):
    """The base cannot be found or read."""


@dataclass(frozen=True)
class Base:
    label: str
    spec: Mapping[str, Any] | None  # None when the base has no such file: everything is new
    allow_text: str | None = None


def _git(repo: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def load_yaml(text: str, source: str) -> Mapping[str, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BaseError(f"{source} is not YAML: {exc}") from exc
    if not isinstance(document, Mapping):
        raise BaseError(f"{source} is not an OpenAPI document")
    return document


def resolve_base(base: str | None, spec_path: Path, allow_path: Path) -> Base:
    if base and Path(base).is_file():
        return Base(base, load_yaml(Path(base).read_text(encoding="utf-8"), base))
    repo = spec_path.resolve().parent
    top = _git(repo, "rev-parse", "--show-toplevel")
    if top is None:
        raise BaseError(f"{repo} is not in a git work tree; pass BASE=<file>")
    root = Path(top.strip())
    if base:
        label, ref = base, base
    else:
        for branch in DEFAULT_BRANCHES:
            found = _git(root, "merge-base", "HEAD", branch)
            if found:
                ref = found.strip()
                label = f"merge base with {branch} ({ref[:10]})"
                break
        else:
            raise BaseError("no `main` or `origin/main` to compare with; pass BASE=<git ref or file>")
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if commit is None:
        raise BaseError(f"'{ref}' is neither a file nor a git commit (a first commit or a shallow clone has no HEAD~1)")
    sha = commit.strip()
    if label == ref:
        label = f"{ref} ({sha[:10]})"
    spec_text = _git(root, "show", f"{sha}:{spec_path.resolve().relative_to(root).as_posix()}")
    allow_text = None
    if allow_path.resolve().is_relative_to(root):
        allow_text = _git(root, "show", f"{sha}:{allow_path.resolve().relative_to(root).as_posix()}")
    spec = load_yaml(spec_text, f"{label}:{spec_path.name}") if spec_text is not None else None
    return Base(label, spec, allow_text)
