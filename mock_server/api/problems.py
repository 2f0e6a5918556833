"""RFC 9457 problem details: the one error format of every 4xx and 5xx the mock sends.

Free of Flask: the validators raise `ApiProblem`, the store raises domain errors that `from_domain`
maps here; the HTTP layer renders both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from mock_server.leads.errors import (
    AliasNotFound,
    DeletionNotFound,
    DomainError,
    LeadNotFound,
    LimitReached,
    MetadataBudgetSpent,
    MetadataFull,
)

PROBLEM_MEDIA_TYPE = "application/problem+json"
MAX_DETAIL_CHARS = 300


@dataclass(frozen=True)
class FieldError:
    """One offending value: where it was (`path`, `query`, `header`, `body`), its name, and what is wrong.

    For the body, `name` is a JSON Pointer to the offending value ("" for the body as a whole).
    """

    location: str
    name: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"in": self.location, "name": _clip(self.name), "detail": _clip(self.detail)}


def _clip(text: str) -> str:
    """At most MAX_DETAIL_CHARS, and always encodable: a problem may quote what a client sent."""
    text = text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass
class ApiProblem(Exception):
    """An error response: raise it anywhere below the HTTP layer."""

    status: int
    slug: str
    detail: str
    errors: Sequence[FieldError] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.status} {self.slug}: {self.detail}")

    @property
    def title(self) -> str:
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return "Error"

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": _clip(self.detail),
        }
        if self.errors:
            body["errors"] = [error.to_dict() for error in self.errors]
        return body


def validation_error(
    errors: Sequence[FieldError], *, slug: str = "validation-error", detail: str | None = None
) -> ApiProblem:
    names = ", ".join(sorted({f"{error.location} {error.name or '(whole body)'}" for error in errors}))
    return ApiProblem(400, slug, detail or f"The request is invalid: {names}.", errors=errors)


def unauthorized(detail: str, *, invalid_token: bool, basic: bool = False) -> ApiProblem:
    challenge = 'Bearer realm="leadvibe"'
    if invalid_token:
        challenge += ', error="invalid_token", error_description="The access token is malformed or unknown"'
    if basic:
        challenge += ', Basic realm="leadvibe"'
    return ApiProblem(401, "unauthorized", detail, headers={"WWW-Authenticate": challenge})


def org_unit_not_found(unit_id: str) -> ApiProblem:
    """An OU the caller may not use, whether or not it exists: a 404, as a lead of another OU (no 403 in the docs)."""
    return ApiProblem(404, "not-found", f"No Organizational Unit '{unit_id}' that these credentials may use.")


# The one mapping from the store's refusals to HTTP: status and problem type per kind of error.
_DOMAIN_PROBLEMS: dict[type[DomainError], tuple[int, str]] = {
    LeadNotFound: (404, "not-found"),
    AliasNotFound: (404, "not-found"),
    DeletionNotFound: (404, "not-found"),
    MetadataFull: (409, "metadata-full"),
    MetadataBudgetSpent: (409, "metadata-full"),
    LimitReached: (409, "limit-reached"),
}


def from_domain(error: DomainError) -> ApiProblem:
    status, slug = _DOMAIN_PROBLEMS.get(type(error), (400, "invalid-request"))
    return ApiProblem(status, slug, str(error))


def payload_too_large(detail: str) -> ApiProblem:
    return ApiProblem(413, "payload-too-large", detail)


def unsupported_media_type(detail: str) -> ApiProblem:
    return ApiProblem(415, "unsupported-media-type", detail)


def method_not_allowed(method: str, allowed: Sequence[str]) -> ApiProblem:
    allow = ", ".join(sorted(allowed))
    return ApiProblem(
        405,
        "method-not-allowed",
        f"{method} is not supported on this path; use one of: {allow}.",
        headers={"Allow": allow},
    )
