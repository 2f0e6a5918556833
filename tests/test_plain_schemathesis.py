"""A plain `schemathesis run openapi.yaml` against the real mock passes, as a user would start it.

People point the stock CLI at the spec without reading the gate's code, from wherever they keep a copy of
it: the spec alone must be enough (issue #18). This test runs exactly that: the `leadvibe-mock` console
script on a free port, the CLI started in a folder holding only openapi.yaml, every phase. The gate's own
loaders pass their configuration explicitly, so that a user's `schemathesis.toml` never reaches them.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadvibe_contract.contract import load_contract
from tests.running import running_mock

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PHASES = "examples,coverage,fuzzing,stateful"


@pytest.fixture
def mock_url() -> Iterator[str]:
    with running_mock([str(BIN / "leadvibe-mock")], "--quiet") as base:
        yield base


@pytest.mark.slow
def test_the_stock_cli_with_the_spec_alone_reports_no_failure(mock_url: str, tmp_path: Path) -> None:
    shutil.copy(REPO_ROOT / "openapi.yaml", tmp_path / "openapi.yaml")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SCHEMATHESIS_", "LEADVIBE_"))}
    done = subprocess.run(
        [
            str(BIN / "schemathesis"),
            "run",
            "openapi.yaml",
            "--url",
            mock_url,
            "-H",
            "Authorization: Bearer kbn_pat_demo",
            "--phases",
            PHASES,
            "--max-examples",
            "3",
            "--workers",
            "1",  # more crashes on Python 3.11 (CPython's ast in threads)
            "--seed",
            "1",
        ],
        cwd=tmp_path,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = done.stdout + done.stderr
    assert "schemathesis.toml" not in output  # no configuration file anywhere above the folder
    assert done.returncode == 0, output[-6000:]
    summary = output[output.index("=== SUMMARY ===") :]
    count = len(load_contract().operations)
    assert f"Selected: {count}/{count}" in summary, summary
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in summary, summary
    assert "failure" not in summary.lower(), summary
    generated, passed = _case_counts(summary)
    assert generated > 500
    assert passed == generated


def _case_counts(summary: str) -> tuple[int, int]:
    """(generated, passed) from the CLI's 'N generated, M passed' line."""
    line = next(line for line in summary.splitlines() if " generated, " in line)
    words = line.replace(",", "").split()
    return int(words[words.index("generated") - 1]), int(words[words.index("passed") - 1])


def _loader_calls_without_config() -> list[str]:
    """Every `schemathesis.openapi.from_*(...)` call in the project's code that does not pass `config=`."""
    found = []
    for folder in ("contracts", "tests", "leadvibe_contract", "bench"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr.startswith("from_")
                    and ast.unparse(node.func.value).endswith("openapi")
                    and not any(keyword.arg == "config" for keyword in node.keywords)
                ):
                    found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    return found


def test_the_projects_own_loaders_never_pick_up_a_config_file() -> None:
    """The CLI's file is found by Python loaders too; each of ours passes an explicit configuration."""
    assert _loader_calls_without_config() == []
