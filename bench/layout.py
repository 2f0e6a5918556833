"""Where things are: paths are resolved from this package, so the bench runs from any checkout."""

from __future__ import annotations

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
SPEC_PATH = REPO_ROOT / "openapi.yaml"
# Tools and data made on first use; git-ignored, removed by `make clean`.
CACHE_DIR = BENCH_DIR / ".cache"
LOG_DIR = CACHE_DIR / "logs"
REPORT_DIR = REPO_ROOT / "reports"
