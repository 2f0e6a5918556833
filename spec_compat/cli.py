"""`make check-compat` (`python -m spec_compat`): the working tree's openapi.yaml against a base.

Prints each change as breaking, non-breaking or annotation-only with its JSON path and a one-line reason,
and exits 1 on a breaking change nobody acknowledged (`spec_compat.acknowledge`), 2 when it cannot judge
(no base, no node, an unreadable allow-list), else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from spec_compat.acknowledge import ALLOW_FILE, AllowListError, Verdict, acknowledge, new_allowances, parse_allowances
from spec_compat.base import BaseError, load_yaml, resolve_base
from spec_compat.change import ANNOTATION, BREAKING, KINDS, NON_BREAKING
from spec_compat.classify import classify
from spec_compat.differ import REPO_ROOT, TOOL, DifferUnavailable, compare, tool_version

_LABELS = {BREAKING: "BREAKING", NON_BREAKING: "non-breaking", ANNOTATION: "annotation"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="check-compat",
        description="Does the working tree's openapi.yaml break existing clients, compared with a base?",
    )
    parser.add_argument(
        "--base", default="", help="a git ref or a file (default: the merge base of HEAD with main, or origin/main)"
    )
    parser.add_argument("--spec", type=Path, default=REPO_ROOT / "openapi.yaml", help="the spec to judge")
    parser.add_argument("--allow", type=Path, default=REPO_ROOT / ALLOW_FILE, help="the allow-list")
    parser.add_argument("--json", action="store_true", help="print the changes as JSON")
    return parser


def _print_text(label: str, verdict: Verdict) -> None:
    counts = {kind: sum(1 for c in verdict.changes if c.kind == kind) for kind in KINDS}
    print(f"check-compat: openapi.yaml against {label}, classified with {TOOL} {tool_version()}")
    for change in verdict.changes:
        mark = _LABELS[change.kind]
        if change in verdict.acknowledged:
            mark = "breaking*"
        rule = f" [{change.source}]" if change.source.startswith("rule") else ""
        print(f"  {mark:<13} {change.where}: {change.reason}{rule}")
        if change in verdict.acknowledged:
            print(f"  {'':<13}   * acknowledged by {verdict.acknowledged[change]}")
    for allowance in verdict.unused:
        print(f"  warning: {ALLOW_FILE} entry matches no breaking change: {allowance.change}")
    summary = ", ".join(f"{counts[kind]} {kind}" for kind in KINDS)
    print(f"check-compat: {summary}; {len(verdict.acknowledged)} breaking acknowledged")
    if not verdict.passed:
        print(
            f"check-compat: FAILED: {len(verdict.unacknowledged)} breaking change(s) would break existing clients.\n"
            "  Make the change additive, or acknowledge it in the same commit: bump info.version's major number,\n"
            f'  or add to {ALLOW_FILE}:  allow: [{{change: "<JSON path above, * as wildcard>", reason: "why"}}]'
        )


def _cannot_judge(exc: Exception) -> NoReturn:
    print(f"check-compat: cannot judge: {exc}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        after = load_yaml(args.spec.read_text(encoding="utf-8"), str(args.spec))
        base = resolve_base(args.base or None, args.spec, args.allow)
        current = parse_allowances(args.allow.read_text(encoding="utf-8") if args.allow.is_file() else None)
        allowances = new_allowances(current, parse_allowances(base.allow_text, f"{base.label}:{ALLOW_FILE}"))
    except (OSError, BaseError, AllowListError) as exc:
        _cannot_judge(exc)
    if base.spec is None:
        print(f"check-compat: {base.label} has no {args.spec.name}; nothing to compare")
        return
    try:
        changes = classify(base.spec, after, compare(base.spec, after))
    except DifferUnavailable as exc:
        _cannot_judge(exc)
    verdict = acknowledge(changes, base.spec, after, allowances)
    if args.json:
        document = {
            "base": base.label,
            "passed": verdict.passed,
            "changes": [
                {
                    "kind": c.kind,
                    "path": c.where,
                    "reason": c.reason,
                    "source": c.source,
                    "acknowledged_by": verdict.acknowledged.get(c),
                }
                for c in verdict.changes
            ],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        _print_text(base.label, verdict)
    if not verdict.passed:
        sys.exit(1)
