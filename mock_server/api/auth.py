"""Who is calling, and which Organizational Unit their lead data is scoped to.

Bearer tokens and service-account credentials (HTTP Basic) come from the seed file. The active OU is the
`activeOu` cookie when the caller may use that OU, else the caller's default OU; a service account's
only OU is its default; a caller without one gets "Active OU must be set" (the spec's decisions).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass

from mock_server.api.problems import FieldError, org_unit_not_found, unauthorized, validation_error
from mock_server.leads.seed import OrgUnitSeed, SeedData

ACTIVE_OU_COOKIE = "activeOu"


@dataclass(frozen=True)
class Scope:
    """The org and OU a request's lead data belongs to."""

    org_id: str
    unit_id: str


@dataclass(frozen=True)
class Principal:
    token: str  # the PAT, or the service account's client_id
    org_id: str
    units: tuple[str, ...]
    default_unit: str | None

    def may_use(self, unit_id: str) -> bool:
        return unit_id in self.units

    def scope(self, active_ou_cookie: str | None) -> Scope:
        """The OU of the cookie when usable, else the default one; without either, a 400."""
        if active_ou_cookie is not None and self.may_use(active_ou_cookie):
            return Scope(self.org_id, active_ou_cookie)
        if self.default_unit is None:
            raise validation_error(
                [FieldError("cookie", ACTIVE_OU_COOKIE, "Active OU must be set: POST /org-units/active first")],
                slug="active-ou-required",
                detail="Active OU must be set.",
            )
        return Scope(self.org_id, self.default_unit)

    def unscoped(self, cookies: Mapping[str, str]) -> Scope:
        """For operations that need no active OU (`is_active` of the OU list): as `scope`, but never a 400."""
        cookie = cookies.get(ACTIVE_OU_COOKIE)
        if cookie is not None and self.may_use(cookie):
            return Scope(self.org_id, cookie)
        return Scope(self.org_id, self.default_unit or self.units[0])


class Directory:
    """Tokens and OUs: authenticates requests and answers which OUs a principal may use."""

    def __init__(self, seed: SeedData) -> None:
        self.load(seed)

    def load(self, seed: SeedData) -> None:
        """(Re)build the tokens and OUs from a seed."""
        self._principals = {
            token.token: Principal(token.token, token.org_id, token.units, token.default_unit) for token in seed.tokens
        }
        self._services = {
            (account.client_id, account.client_secret): Principal(
                account.client_id, account.org_id, (account.unit_id,), account.unit_id
            )
            for account in seed.service_accounts
        }
        self._units = {(unit.org_id, unit.unit_id): unit for unit in seed.org_units}

    def authenticate(self, authorization: str | None, *, basic: bool = False) -> Principal:
        """The principal of an `Authorization` header, or a 401 problem. `basic`: the operation also
        accepts service-account credentials over HTTP Basic."""
        wanted = "'Authorization: Bearer <token>'" + (" or HTTP Basic service credentials" if basic else "")
        if not authorization:
            raise unauthorized(f"Credentials are required: send {wanted}.", invalid_token=False, basic=basic)
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if basic and scheme.lower() == "basic" and credentials:
            return self._service(credentials)
        if scheme.lower() != "bearer" or not credentials:
            raise unauthorized(f"The Authorization header must be {wanted}.", invalid_token=True, basic=basic)
        principal = self._principals.get(credentials)
        if principal is None:
            raise unauthorized("The bearer token is not valid.", invalid_token=True, basic=basic)
        return principal

    def _service(self, credentials: str) -> Principal:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8 (UnicodeDecodeError)
            decoded = ""
        client_id, _, secret = decoded.partition(":")
        principal = self._services.get((client_id, secret))
        if principal is None:
            # Not the Bearer challenge's invalid_token: the credentials were Basic, and the answer says so.
            detail = "The HTTP Basic service-account credentials are not valid."
            raise unauthorized(detail, invalid_token=False, basic=True)
        return principal

    def units_of(self, principal: Principal) -> list[OrgUnitSeed]:
        return [self._units[(principal.org_id, unit_id)] for unit_id in principal.units]

    def choose_unit(self, principal: Principal, unit_id: str) -> OrgUnitSeed:
        """The OU a principal asks to make active, or a 404 when it may not use it."""
        if not principal.may_use(unit_id):
            raise org_unit_not_found(unit_id)
        return self._units[(principal.org_id, unit_id)]


def org_unit_view(unit: OrgUnitSeed, active: Scope) -> dict[str, object]:
    """An OU as the spec's OrgUnit schema shows it."""
    return {
        "unit_id": unit.unit_id,
        "org_id": unit.org_id,
        "name": unit.name,
        "slug": unit.slug,
        "external_ref": unit.external_ref,
        "is_default": unit.is_default,
        "is_active": (unit.org_id, unit.unit_id) == (active.org_id, active.unit_id),
    }
