"""A method a path does not declare is a 405 with an `Allow` header naming the declared ones.

Its own test, not part of every operation's Schemathesis run: an edge (a gateway, a CDN) may answer such
methods itself, and that one finding must not hide every other finding of the operations behind it.
`LEADVIBE_PROBE_METHODS=0` switches it off. Against a deployment the probes follow the safety rules: a
path that names a lead names one of the run's own; a path that names none gets only methods that cannot
change data; a read-only run sends only GET.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from contracts.checks import ERROR_MEDIA_TYPES
from contracts.client import READ_METHODS
from contracts.run import Run
from contracts.safety import PROBE_METHODS
from contracts.verdict import expect
from leadvibe_contract.examples import EXAMPLE_LEAD

# OPTIONS is left out: answering it (CORS preflights, `Allow`) is what it is for.
PROBED = ("GET", "PUT", "POST", "DELETE", "PATCH", "TRACE")


def test_undeclared_methods_are_405_with_allow(run: Run) -> None:
    if not run.target.probe_methods:
        pytest.skip("LEADVIBE_PROBE_METHODS=0: undeclared methods are not probed")
    declared: dict[str, set[str]] = defaultdict(set)
    names_lead: dict[str, list[str]] = defaultdict(list)
    for operation in run.contract.operations.values():
        declared[operation.path].add(operation.method.upper())
        names_lead[operation.path] += [p.name for p in operation.places if p.location == "path"]
    sent = 0
    for template, methods in sorted(declared.items()):
        for method in PROBED:
            if method in methods or (method == "GET" and "HEAD" in methods):
                continue
            if run.target.live and not run.target.allow_writes and method not in READ_METHODS:
                continue  # read-only
            if run.target.live and not names_lead[template] and method not in PROBE_METHODS:
                continue  # no lead of ours to aim at: only methods that cannot change data
            lead = run.owned.current() if run.target.live and run.owned and names_lead[template] else EXAMPLE_LEAD
            path = template
            for name in set(names_lead[template]):
                path = path.replace(f"{{{name}}}", lead)
            response = run.client.request(method, path, token=run.token)
            sent += 1
            expect(response.status == 405, "undeclared_method", f"{method} {template} is not a 405", response)
            allowed = {m.strip().upper() for m in response.headers.get("allow", "").split(",") if m.strip()}
            missing = sorted(methods - allowed)
            expect(not missing, "undeclared_method", f"Allow {sorted(allowed)} lacks {missing}", response)
            # The docs give no error body: a deployment's may be plain JSON; the mock's is a problem document.
            media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            accepted = ERROR_MEDIA_TYPES if run.target.live else ERROR_MEDIA_TYPES[:1]
            expect(media_type in accepted, "undeclared_method", f"the 405 is served as {media_type!r}", response)
    run.reset()
    assert sent, "no undeclared method was probed"
