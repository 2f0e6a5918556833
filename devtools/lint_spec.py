"""`make lint-spec`: the linters people point at openapi.yaml, with zero errors and zero warnings.

- Spectral with `.spectral.yaml`: the `spectral:oas` ruleset and the OWASP API security ruleset, with
  each rule that does not apply switched off there, one reason per line;
- Redocly CLI with `redocly.yaml`: its `recommended` ruleset.

Both come from npm at the versions of devtools/npm.py, installed into .cache/npm-tools on first use; after
that no network is needed. Without node and npm the lint is skipped with a message (and fails under CI,
where a skipped lint would pass an unlinted spec).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools import npm

SPEC = "openapi.yaml"


@dataclass
class Findings:
    tool: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.tool}: {len(self.errors)} errors, {len(self.warnings)} warnings, {len(self.other)} hints"


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, cwd=npm.REPO_ROOT, env=npm.node_env(), check=False)


def spectral(tools: Path) -> Findings:
    done = _run([str(tools / "spectral"), "lint", SPEC, "--ruleset", ".spectral.yaml", "-F", "hint", "-f", "json"])
    try:
        # The JSON, then (when it is empty) a "No results ..." line.
        results: list[dict[str, Any]] = json.JSONDecoder().raw_decode(done.stdout.lstrip())[0]
    except ValueError as error:
        raise SystemExit(f"lint-spec: Spectral did not report (exit {done.returncode}):\n{done.stderr}") from error
    findings = Findings("Spectral (spectral:oas + OWASP, .spectral.yaml)")
    for result in results:
        line = result["range"]["start"]["line"] + 1
        text = f"{SPEC}:{line} {result['code']}: {result['message']} ({'/'.join(map(str, result['path']))})"
        [findings.errors, findings.warnings, findings.other, findings.other][result["severity"]].append(text)
    return findings


def redocly(tools: Path) -> Findings:
    done = _run([str(tools / "redocly"), "lint", SPEC, "--format", "json"])
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError as error:
        raise SystemExit(f"lint-spec: Redocly did not report (exit {done.returncode}):\n{done.stderr}") from error
    findings = Findings("Redocly (recommended, redocly.yaml)")
    for problem in report["problems"]:
        where = problem["location"][0].get("pointer", "") if problem.get("location") else ""
        text = f"{SPEC}#{where} {problem['ruleId']}: {problem['message']}"
        {"error": findings.errors, "warn": findings.warnings}.get(problem["severity"], findings.other).append(text)
    return findings


def main() -> int:
    print(f"lint-spec: Spectral and Redocly CLI on {SPEC} (pinned in devtools/npm.py)", flush=True)
    try:
        tools = npm.ensure("@stoplight/spectral-cli", "@stoplight/spectral-owasp-ruleset", "@redocly/cli")
    except npm.MissingTool as missing:
        print(f"lint-spec: SKIPPED, the linters are not available: {missing}", file=sys.stderr)
        return 2 if os.environ.get("CI") else 0
    failed = False
    for findings in (spectral(tools), redocly(tools)):
        for text in findings.errors + findings.warnings + findings.other:
            print(f"  {text}")
        print(f"lint-spec: {findings.summary()}")
        failed = failed or bool(findings.errors or findings.warnings)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
