"""How a mock server instance is set up: spec, seed, timing, CORS. One frozen object per app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from mock_server.leads.seed import DEFAULT_SEED
from mock_server.leads.store import LeadStore
from mock_server.leads.timeutil import Clock, utc_now

# Front ends served from any local port (Vite, Next, CRA ...): http(s)://localhost|127.0.0.1|[::1][:port]
LOCAL_ORIGINS = (r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$",)


@dataclass(frozen=True)
class MockConfig:
    spec_path: Path | None = None
    seed_path: Path = DEFAULT_SEED
    deletion_delay: timedelta = timedelta(seconds=5)
    cors_origins: tuple[str, ...] = LOCAL_ORIGINS
    clock: Clock = utc_now
    # Check every response against openapi.yaml and fail loudly on drift (the tests turn this on).
    validate_responses: bool = False
    # Mock-only endpoints outside the contract: /_mock/health, /_mock/reset, /openapi.yaml.
    admin_endpoints: bool = True
    store_class: type[LeadStore] = LeadStore
