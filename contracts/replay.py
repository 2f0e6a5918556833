"""`make replay TARGET=URL RECORDING=DIR`: a recording (`leadvibe-mock --proxy --record`) sent again as contracts.

Each recorded exchange is sent again, in order, and judged against what was recorded: the same status class,
an answer the contract allows, and every field the recorded answer had still there with the same type (a
null on either side is a value, not a type: nullable fields change value). Values are not compared: ids,
scores and times differ between a mock and staging, and between two days; nor are the keys of a free-form
map (`metadata`, the scores per ruleset), which are data. Against the mock the replay starts from the
recording's state (`POST /_mock/reset`).

Writes are replayed against the mock only (it answers `/_mock/health`; it is given the recording's mock
token). Against a deployment the run is read-only, by the gate's own client (`contracts.client`: throttled,
budgeted, retried, a write refused before it leaves), and every recorded write is skipped with the reason:
the recorded leads are never the run's own (contracts/ownership.py). The target's settings (token, rate,
budget, TLS) are the live gate's LEADVIBE_* variables (docs/live-gate.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import requests

from contracts.client import ApiClient, HttpClient
from contracts.run import token_names
from contracts.shape import documented, shape, within
from contracts.target import TargetError, target_from_env
from contracts.throttle import Throttle
from contracts.transient import RetryPolicy, TargetUnavailable
from leadvibe_contract.contract import Contract, OperationSpec, load_contract
from leadvibe_contract.recorded import read_exchanges, read_manifest

MAX_CHANGES = 10  # per exchange


@dataclass
class Replayed:
    n: int
    label: str
    recorded: int
    status: int | None = None
    changes: list[str] = field(default_factory=list)
    skipped: str | None = None


def judge(contract: Contract, operation: OperationSpec, recorded: dict[str, Any], status: int, text: str) -> list[str]:
    """How the answer differs from the recorded one, as sentences; none: the same."""
    changes = []
    if status // 100 != recorded["status"] // 100:
        changes.append(f"status {recorded['status']} became {status}")
    if status not in operation.responses:
        return [*changes, f"status {status} is not declared for {operation.operation_id}"]
    try:
        document = json.loads(text) if text else None
    except ValueError:
        return [*changes, "the answer is not JSON"]
    validator = operation.responses[status]
    if validator is not None:
        errors = validator.evaluate(document).errors()
        changes += [
            f"the answer breaks the contract at {e['instanceLocation'] or '(whole body)'}: "
            f"'{e['schemaLocation'].rsplit('/', 1)[-1]}'"
            for e in errors[:3]
        ]
    if status // 100 != recorded["status"] // 100 or recorded["answer"] is None:
        return changes
    now = shape(document)
    raw = operation.raw.get("responses", {}).get(str(recorded["status"]), {})
    _, maps = documented(contract, contract.resolve(raw).get("content", {}))
    for pointer, kind in shape(recorded["answer"]).items():
        if within(pointer, maps):
            continue  # a key of a free-form map (metadata, scores per ruleset) is data, not a field
        if pointer not in now:
            changes.append(f"field {pointer or '(whole body)'} ({kind}) is missing")
        elif "null" not in (kind, now[pointer]) and now[pointer] != kind:
            changes.append(f"field {pointer} was {kind}, is {now[pointer]}")
    return changes[:MAX_CHANGES]


def replay(
    directory: Path, client: ApiClient, token: str, *, mock: bool, contract: Contract | None = None
) -> list[Replayed]:
    """Sends each recorded exchange again, in order; one verdict per exchange. Not to the `mock`: no write,
    and no request whose personal data the recording replaced by placeholders (the upstream knows none)."""
    contract = contract or load_contract()
    results = []
    for exchange in read_exchanges(directory):
        operation = contract.operations.get(exchange["operation"])
        label = f"{exchange['method']} {exchange['path']}" + (f"?{exchange['query']}" if exchange["query"] else "")
        result = Replayed(exchange["n"], label, exchange["status"])
        results.append(result)
        if operation is None:
            result.skipped = f"{exchange['operation']} is no longer an operation of the spec"
            continue
        if operation.is_write and not mock:
            result.skipped = "a write, replayed against the mock only: the recorded leads are not this run's own"
            continue
        if exchange.get("request_redacted") and not mock:
            result.skipped = "its request carries redacted personal data (record with --keep-personal-data)"
            continue
        response = client.request(
            exchange["method"],
            exchange["path"],
            token=token,
            params=parse_qs(exchange["query"], keep_blank_values=True),
            json_body=exchange["body"],
        )
        result.status = response.status
        result.changes = judge(contract, operation, exchange, response.status, response.text)
    return results


def is_mock(base_url: str) -> bool:
    """The mock answers its admin endpoint `/_mock/health` with its scenario; a deployment does not."""
    try:
        answer = requests.get(f"{base_url}/_mock/health", timeout=5, allow_redirects=False)
        return answer.status_code == 200 and {"status", "scenario", "leads", "chaos"} <= set(answer.json())
    except (requests.RequestException, ValueError, TypeError):
        return False


def report(results: Sequence[Replayed], directory: Path, base_url: str) -> str:
    changed = [r for r in results if r.changes]
    skipped = [r for r in results if r.skipped]
    lines = [
        f"leadvibe-contracts replay of {directory} against {base_url}: {len(results)} exchange(s), "
        f"{len(results) - len(changed) - len(skipped)} unchanged, {len(changed)} changed, {len(skipped)} skipped"
    ]
    for result in changed:
        lines += [f"  CHANGED #{result.n} {result.label}: {change}" for change in result.changes]
    for result in skipped:
        lines.append(f"  skipped #{result.n} {result.label}: {result.skipped}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts.replay", description=__doc__.split("\n")[0])
    parser.add_argument("--target", required=True, help="base URL: the mock, or a deployment (LEADVIBE_TOKEN)")
    parser.add_argument("--recording", type=Path, required=True, metavar="DIR")
    parser.add_argument("--report", type=Path, default=Path("reports/replay.json"), metavar="FILE")
    args = parser.parse_args(argv)
    base = args.target.rstrip("/")
    try:
        manifest = read_manifest(args.recording)
        mock = is_mock(base)
        env = {**os.environ, "LEADVIBE_TARGET": "live", "LEADVIBE_BASE_URL": base}
        if mock:
            env["LEADVIBE_TOKEN"] = manifest["mock_token"]  # the mock's own demo token, never a real one
        target = target_from_env(env)
    except (OSError, ValueError, KeyError, TargetError) as exc:
        print(f"leadvibe-contracts replay: {exc}", file=sys.stderr)
        return 2
    client = HttpClient(
        base,
        target.request_timeout,
        Throttle(target.rate_limit, target.max_requests),
        token_names(target),
        read_only=not mock,
        retries=RetryPolicy(attempts=target.retries),
        tls=target.tls,
    )
    try:
        if mock:  # back to the recording's state (the scenario it serves), whatever an earlier replay changed
            requests.post(f"{base}/_mock/reset", timeout=target.request_timeout)
        results = replay(args.recording, client, target.token, mock=mock)
    except (KeyError, TypeError, AttributeError) as exc:
        print(f"leadvibe-contracts replay: {args.recording} is not a recording: {exc!r}", file=sys.stderr)
        return 2
    except (requests.RequestException, TargetUnavailable) as exc:
        print(f"leadvibe-contracts replay: {base} did not answer: {exc}", file=sys.stderr)
        return 3
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n", encoding="utf-8")
    print(report(results, args.recording, base) + f"\n  report: {args.report}")
    return 1 if any(r.changes for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
