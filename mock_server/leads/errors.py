"""What can go wrong in the store, in the store's own words. Free of HTTP.

The app turns each of these into a problem document in one place (`mock_server.api.problems.from_domain`).
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of the store's refusals; the message is a sentence a client can act on."""


class LeadNotFound(DomainError):
    """No such lead in the caller's OU (a lead of another OU or org is reported exactly the same)."""

    def __init__(self, lead_id: str) -> None:
        super().__init__(f"Lead '{lead_id}' does not exist in the active Organizational Unit.")
        self.lead_id = lead_id


class AliasNotFound(DomainError):
    def __init__(self) -> None:
        super().__init__("No lead found for this alias in the active Organizational Unit.")


class DeletionNotFound(DomainError):
    def __init__(self, lead_id: str) -> None:
        super().__init__(f"No deletion was requested for lead '{lead_id}' in the active Organizational Unit.")
        self.lead_id = lead_id


class MetadataFull(DomainError):
    """A write would leave the lead with more metadata keys than the contract allows."""

    def __init__(self, keys: int, limit: int) -> None:
        super().__init__(f"The lead would have {keys} metadata keys; at most {limit} are allowed.")
        self.keys, self.limit = keys, limit


class LimitReached(DomainError):
    """A write would take the OU past its leads, or a lead past its aliases (limits of the spec's `info`).

    Refused before anything changes, so that no stream of valid requests grows the mock without bound.
    """

    def __init__(self, what: str, held: int, limit: int) -> None:
        super().__init__(f"The {what} holds {held}; at most {limit} are allowed, so the event was not recorded.")
        self.what, self.held, self.limit = what, held, limit


class MetadataBudgetSpent(DomainError):
    """A write would take the lead metadata the mock holds, all leads together, past its byte budget."""

    def __init__(self, held: int, limit: int) -> None:
        super().__init__(
            f"The mock holds {held} bytes of lead metadata; this write would take it past {limit}, so nothing "
            "changed (remove metadata from other leads, or reset the mock)."
        )
        self.held, self.limit = held, limit
