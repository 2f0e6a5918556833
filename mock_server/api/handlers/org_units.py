"""Handlers of the Organizational Unit operations: list them, and choose the active one (a cookie)."""

from __future__ import annotations

from mock_server.api.auth import ACTIVE_OU_COOKIE, Scope, org_unit_view
from mock_server.api.handlers import Call, Reply, handles


@handles("listOrgUnits")
def list_org_units(call: Call) -> Reply:
    units = call.directory.units_of(call.principal)
    return Reply(200, {"org_units": [org_unit_view(unit, call.scope) for unit in units]})


@handles("setActiveOrgUnit")
def set_active_org_unit(call: Call) -> Reply:
    unit = call.directory.choose_unit(call.principal, call.request.body["ouId"])
    body = org_unit_view(unit, Scope(unit.org_id, unit.unit_id))
    return Reply(200, body, cookies={ACTIVE_OU_COOKIE: unit.unit_id})
