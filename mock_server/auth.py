"""Who is calling, and which Organizational Unit their lead data is scoped to.

Bearer tokens come from the seed file. The active OU is the `activeOu` cookie when the token may use
that OU, else the token's default OU (the spec's decision).
"""

from __future__ import annotations

from dataclasses import dataclass

from mock_server.problems import forbidden_org_unit, unauthorized
from mock_server.seed import OrgUnitSeed, SeedData

ACTIVE_OU_COOKIE = "activeOu"


@dataclass(frozen=True)
class Scope:
    """The org and OU a request's lead data belongs to."""

    org_id: str
    unit_id: str


@dataclass(frozen=True)
class Principal:
    token: str
    org_id: str
    units: tuple[str, ...]
    default_unit: str

    def may_use(self, unit_id: str) -> bool:
        return unit_id in self.units

    def scope(self, active_ou_cookie: str | None) -> Scope:
        if active_ou_cookie is not None and self.may_use(active_ou_cookie):
            return Scope(self.org_id, active_ou_cookie)
        return Scope(self.org_id, self.default_unit)


class Directory:
    """Tokens and OUs: authenticates requests and answers which OUs a principal may use."""

    def __init__(self, seed: SeedData) -> None:
        self.load(seed)

    def load(self, seed: SeedData) -> None:
        """(Re)build the tokens and OUs from a seed."""
        self._principals = {
            token.token: Principal(token.token, token.org_id, token.units, token.default_unit) for token in seed.tokens
        }
        self._units = {(unit.org_id, unit.unit_id): unit for unit in seed.org_units}

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an `Authorization` header, or a 401 problem."""
        if not authorization:
            raise unauthorized("A bearer token is required: send 'Authorization: Bearer <token>'.", invalid_token=False)
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("The Authorization header must be 'Bearer <token>'.", invalid_token=True)
        principal = self._principals.get(token.strip())
        if principal is None:
            raise unauthorized("The bearer token is not valid.", invalid_token=True)
        return principal

    def units_of(self, principal: Principal) -> list[OrgUnitSeed]:
        return [self._units[(principal.org_id, unit_id)] for unit_id in principal.units]

    def choose_unit(self, principal: Principal, unit_id: str) -> OrgUnitSeed:
        """The OU a principal asks to make active, or a 403 when the token may not use it."""
        if not principal.may_use(unit_id):
            raise forbidden_org_unit(unit_id)
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
