"""The mock's own limits: how much it holds and how long it waits, so that no stream of requests exhausts it.

LeadVibe's docs state none of these (openapi.yaml states only what a deployment promises), so they are the
mock's configuration, stated here once; `leadvibe-mock --help` lists them (docs/mock-limits.md says why).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class MockLimits:
    max_request_bytes: int = field(
        default=1_048_576, metadata={"what": "request body (Content-Length or chunked), bytes: else a 413"}
    )
    max_buffered_request_bytes: int = field(
        default=128 * 1024 * 1024,
        metadata={"what": "request body bytes held at once, all connections: else a 503 with Retry-After"},
    )
    max_connections: int = field(
        default=1_000, metadata={"what": "connections served at once: the next wait in the kernel's backlog"}
    )
    request_body_timeout: float = field(
        default=10, metadata={"what": "seconds for a body (else a 408) or a head (else closed) to arrive"}
    )
    max_json_depth: int = field(default=32, metadata={"what": "nesting levels of a JSON body: else a 400"})
    max_json_values: int = field(
        default=100_000, metadata={"what": "values in a JSON body (objects, arrays, keys, scalars): else a 413"}
    )
    max_leads_per_ou: int = field(default=10_000, metadata={"what": "leads per OU: an ingest past it is a 409"})
    max_events_per_lead: int = field(default=200, metadata={"what": "events kept per lead (the oldest is dropped)"})
    max_aliases_per_lead: int = field(default=50, metadata={"what": "aliases per lead: an ingest past it is a 409"})
    max_event_metadata_bytes: int = field(
        default=64 * 1024 * 1024, metadata={"what": "ingested event metadata kept, bytes in all: else a 409"}
    )
    max_deletions_per_ou: int = field(
        default=10_000, metadata={"what": "deletion statuses kept per OU (an older one is a 404)"}
    )
    max_lead_metadata_bytes: int = field(
        default=64 * 1024 * 1024,
        metadata={"what": "lead metadata kept (its JSON), bytes in all: a PUT or PATCH past it is a 409"},
    )
    max_metadata_keys: int = field(
        default=200, metadata={"what": "metadata keys per lead: a PUT or PATCH past it is a 409"}
    )
    max_page_size: int = field(
        default=100,
        metadata={"what": "leads per page (/leads, /top-leads, /score-gains): a larger limit gets this many"},
    )
    max_explain_hours: int = field(
        default=720,
        metadata={"what": "hours of a score explanation: beyond 1 to this, clamped (range_hours)"},
    )
    max_request_target_bytes: int = field(default=16_384, metadata={"what": "path and query, bytes: else a 414"})
    max_header_bytes: int = field(default=32_768, metadata={"what": "header bytes in all: else a 431"})

    @property
    def max_head_bytes(self) -> int:
        """What granian buffers of one request head before its own empty 431: the target and the
        headers at their limits, and the request line's words, so that both limits are answered by the app."""
        return self.max_request_target_bytes + self.max_header_bytes + 64


LIMITS = MockLimits()


def describe(limits: MockLimits = LIMITS) -> str:
    """The limits as lines for `--help`."""
    rows = [f"  {item.name:<26} {getattr(limits, item.name)!s:>9}  {item.metadata['what']}" for item in fields(limits)]
    return "the mock's own limits (the docs state none):\n" + "\n".join(rows)
