"""What the contracts run against: the in-process mock (default) or a live deployment (environment only).

Live mode is chosen by `LEADVIBE_TARGET=live`, which `leadvibe-contracts` (`make test-live`) sets.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from contracts.client import Tls

MOCK_TOKEN = "kbn_pat_demo"
MAX_CONCURRENCY = 16
# In mock mode isolation is checked against another OU of the same org and against another org.
MOCK_OTHER_TOKENS = ("kbn_pat_demo_emea", "kbn_pat_other")
MOCK_BASIC = ("lv_ci_demo", "lv_cs_demo")  # the seed's demo service account (HTTP Basic), tied to unit_default


class TargetError(Exception):
    """The environment does not describe a usable target; the message says what to set."""


@dataclass(frozen=True)
class Target:
    mode: Literal["mock", "live"]
    token: str = field(repr=False)  # a credential: never in a repr, a traceback or a report
    base_url: str | None = None
    other_tokens: tuple[str, ...] = field(default=(), repr=False)
    basic: tuple[str, str] | None = field(default=None, repr=False)  # service credentials: (client id, secret)
    allow_writes: bool = True
    max_examples: int = 25
    request_timeout: float = 10.0
    rate_limit: float = 20.0  # requests per second, live only
    max_requests: int = 5000  # the whole run's request budget, live only
    wait_timeout: float = 30.0  # bound for asynchronous effects (ingest, deletion)
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    spec_path: Path | None = None  # another copy of the contract (tests); default: the shipped openapi.yaml
    # Shrink a failing example to a minimal one. Off against a deployment: every shrink step is more traffic.
    shrink: bool = True
    tls: Tls = field(default_factory=Tls)
    # How long a read may lag behind an acknowledged write (replicas); 0: reads see writes at once.
    consistency_window: float = 0.0
    probe_methods: bool = True  # the test of undeclared methods (405 + Allow); an edge may answer them itself
    retries: int = 4  # attempts per request on 429/503 or no answer
    state_dir: Path = Path(".leadvibe-contracts")  # one folder per run, each with its ledger (contracts.state)
    state_run: str = ""  # the run whose folder holds the ledger (a worker's is its run's); default: run_id
    # Requests in flight at once (pytest-xdist workers sharing one rate and budget), so that a slow network
    # costs time only where the rate limit does not already: live only; 1 sends one request at a time.
    concurrency: int = 1

    @property
    def cleanup_reserve(self) -> int:
        """Requests of the budget kept for clean-up from the start (each marker then books its own)."""
        return 10

    @property
    def run_dir(self) -> Path:
        """The run's own folder: its ledger, locked for as long as the run lives (contracts.state)."""
        return self.state_dir / "runs" / (self.state_run or self.run_id)

    @property
    def live(self) -> bool:
        return self.mode == "live"

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every credential of the run, for redaction of anything it prints or writes."""
        basic = (self.basic[1], f"{self.basic[0]}:{self.basic[1]}") if self.basic else ()
        return tuple(secret for secret in (self.token, *self.other_tokens, *basic) if secret)

    def describe(self) -> str:
        writes = (
            "WRITES ON: only leads this run creates through POST /ingest are written to, then deleted"
            if self.allow_writes
            else "read-only: GET requests only (set LEADVIBE_ALLOW_WRITES=1 for the write contracts)"
        )
        isolation = "on" if self.other_tokens else "off (set LEADVIBE_OTHER_OU_TOKEN to turn them on)"
        verify = self.tls.verify
        tls = "not verified" if verify is False else "CA bundle " + verify if isinstance(verify, str) else "verified"
        tls += ", client certificate" if self.tls.cert else ""
        return (
            f"target: {self.base_url or 'in-process mock'}\n"
            f"mode: {writes}\n"
            f"isolation contracts: {isolation}\n"
            f"budget: {self.max_examples} examples per operation, at most {self.max_requests} requests, "
            f"{self.rate_limit:g} requests/s, {self.concurrency} in flight, {self.request_timeout:g} s timeout; "
            f"run id {self.run_id}\n"
            f"TLS: {tls}; reads may lag writes by up to {self.consistency_window:g} s"
        )


def _number(
    env: Mapping[str, str], name: str, default: float, *, integer: bool = False, allow_zero: bool = False
) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        raise TargetError(f"{name} must be a {'whole ' if integer else ''}number, got {raw!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise TargetError(f"{name} must be positive, got {raw!r}")
    return value


def target_from_env(env: Mapping[str, str] | None = None) -> Target:
    env = os.environ if env is None else env
    if env.get("LEADVIBE_TARGET", "mock") != "live":
        return Target(
            mode="mock",
            token=MOCK_TOKEN,
            other_tokens=MOCK_OTHER_TOKENS,
            basic=MOCK_BASIC,
            max_examples=int(_number(env, "LEADVIBE_MAX_EXAMPLES", 25, integer=True)),
            wait_timeout=5.0,
        )
    base_url = env.get("LEADVIBE_BASE_URL", "").rstrip("/")
    if not base_url:
        raise TargetError(
            "LEADVIBE_BASE_URL is not set: it names the deployment to check, e.g. "
            "LEADVIBE_BASE_URL=https://staging.example.com LEADVIBE_TOKEN=kbn_pat_... make test-live"
        )
    if not base_url.startswith(("http://", "https://")):
        raise TargetError(f"LEADVIBE_BASE_URL must start with http:// or https://, got {base_url!r}")
    token = env.get("LEADVIBE_TOKEN", "")
    if not token:
        raise TargetError("LEADVIBE_TOKEN is not set: a bearer token (kbn_pat_...) of the deployment is required")
    other = env.get("LEADVIBE_OTHER_OU_TOKEN", "")
    concurrency = int(_number(env, "LEADVIBE_CONCURRENCY", 4, integer=True))
    if concurrency > MAX_CONCURRENCY:
        raise TargetError(
            f"LEADVIBE_CONCURRENCY is at most {MAX_CONCURRENCY} (a few requests in flight), got {concurrency}"
        )
    return Target(
        mode="live",
        token=token,
        base_url=base_url,
        other_tokens=(other,) if other else (),
        basic=_basic(env),
        allow_writes=env.get("LEADVIBE_ALLOW_WRITES", "") == "1",
        max_examples=int(_number(env, "LEADVIBE_MAX_EXAMPLES", 10, integer=True)),
        request_timeout=_number(env, "LEADVIBE_TIMEOUT", 10.0),
        rate_limit=_number(env, "LEADVIBE_RATE_LIMIT", 20.0),
        max_requests=int(_number(env, "LEADVIBE_MAX_REQUESTS", 5000, integer=True)),
        wait_timeout=_number(env, "LEADVIBE_WAIT_TIMEOUT", 30.0),
        shrink=env.get("LEADVIBE_SHRINK", "") == "1",
        tls=_tls(env),
        consistency_window=_number(env, "LEADVIBE_CONSISTENCY_WINDOW", 0.0, allow_zero=True),
        probe_methods=env.get("LEADVIBE_PROBE_METHODS", "1") != "0",
        retries=int(_number(env, "LEADVIBE_RETRIES", 4, integer=True)),
        state_dir=Path(env.get("LEADVIBE_STATE_DIR") or ".leadvibe-contracts"),
        concurrency=concurrency,
    )


def _basic(env: Mapping[str, str]) -> tuple[str, str] | None:
    raw = env.get("LEADVIBE_BASIC_CREDENTIALS", "")
    if not raw:
        return None
    client_id, colon, secret = raw.partition(":")
    if not (client_id and colon and secret):
        raise TargetError("LEADVIBE_BASIC_CREDENTIALS must be client_id:client_secret")
    return client_id, secret


def _tls(env: Mapping[str, str]) -> Tls:
    bundle = env.get("LEADVIBE_CA_BUNDLE", "")
    if bundle and not Path(bundle).is_file():
        raise TargetError(f"LEADVIBE_CA_BUNDLE names no file: {bundle!r}")
    cert, key = env.get("LEADVIBE_CLIENT_CERT", ""), env.get("LEADVIBE_CLIENT_KEY", "")
    for name, path in (("LEADVIBE_CLIENT_CERT", cert), ("LEADVIBE_CLIENT_KEY", key)):
        if path and not Path(path).is_file():
            raise TargetError(f"{name} names no file: {path!r}")
    if key and not cert:
        raise TargetError("LEADVIBE_CLIENT_KEY needs LEADVIBE_CLIENT_CERT")
    verify: bool | str = bundle or True
    if env.get("LEADVIBE_TLS_VERIFY", "1") == "0":
        verify = False
    return Tls(verify=verify, cert=cert or None, key=key or None)
