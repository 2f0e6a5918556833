"""`leadvibe-contracts` (`make test-live`): the conformance suite against a live deployment.

Configured by environment variables only (see the README). Exit status: 0 when every contract holds,
1 when one is violated, 2 when the environment does not describe a target. Writes a JUnit XML report.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pytest

from contracts.plugin import TargetPlugin
from contracts.target import TargetError, target_from_env

SUITE = Path(__file__).parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="leadvibe-contracts",
        description="Check a LeadVibe deployment against openapi.yaml. Configure it with LEADVIBE_BASE_URL, "
        "LEADVIBE_TOKEN and, optionally, LEADVIBE_OTHER_OU_TOKEN, LEADVIBE_ALLOW_WRITES=1, LEADVIBE_MAX_EXAMPLES. "
        "Other arguments go to pytest (e.g. -k reads, -x).",
    )
    parser.add_argument(
        "--report-dir", type=Path, default=Path("reports"), help="where the JUnit XML goes (default reports/)"
    )
    args, pytest_args = parser.parse_known_args(argv)
    try:
        target = target_from_env({**os.environ, "LEADVIBE_TARGET": "live"})
    except TargetError as exc:
        print(f"leadvibe-contracts: {exc}", file=sys.stderr)
        return 2
    print(f"leadvibe-contracts: checking a live deployment against openapi.yaml\n{target.describe()}", flush=True)
    args.report_dir.mkdir(parents=True, exist_ok=True)
    report = args.report_dir / "contracts-live.xml"
    code = pytest.main(
        [
            str(SUITE),
            f"--rootdir={SUITE.parent}",
            "-p",
            "no:cacheprovider",
            f"--junitxml={report}",
            "-o",
            "junit_family=xunit2",
            "-o",
            "console_output_style=count",
            "-rfEs",
            *pytest_args,
        ],
        plugins=[TargetPlugin(target)],
    )
    print(f"leadvibe-contracts: JUnit report in {report}", flush=True)
    return int(code)


def entry() -> None:
    sys.exit(main())
