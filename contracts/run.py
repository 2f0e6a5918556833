"""One conformance run: the target, its client, the Schemathesis schema, the checks and the live-safety guard.

Built by a fixture from a `Target` (contracts.conftest), never at import: one process can run the suite
against several targets, one after the other (the gate's own tests do).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import transport as st_transport
from schemathesis.specs.openapi.schemas import OpenApiSchema

from contracts.blockage import Blockage
from contracts.checks import Check, contract_checks
from contracts.client import ApiClient, HttpClient, TokenNames
from contracts.coverage import Coverage
from contracts.drift import DriftCollector, exactly_the_declared_fields
from contracts.findings import FailingCases
from contracts.guard import GuardedTransport, guard
from contracts.ownership import Ledger, OwnedLeads, token_id
from contracts.quiet import Quiet
from contracts.redact import Redactor
from contracts.safety import LiveSafety
from contracts.target import Target
from contracts.throttle import Throttle
from contracts.transient import RetryPolicy
from leadvibe_contract.contract import Contract, default_spec_path, load_contract

READ_ONLY = "read-only run: GET operations only (LEADVIBE_ALLOW_WRITES=1 for the others)"


def switched_off(target: Target, contract: Contract, refused: dict[str, str]) -> dict[str, str]:
    """The operations this run never exercises, with the reason: Schemathesis' configuration turns them
    off, and their tests say why they are skipped."""
    off = {op_id: f"refused write operation: {reason}" for op_id, reason in refused.items()}
    if target.live and not target.allow_writes:
        off |= dict.fromkeys((op.operation_id for op in contract.operations_where(write=True)), READ_ONLY)
    return off


def schema_config(target: Target, contract: Contract, off: dict[str, str], only: str | None = None) -> dict[str, Any]:
    """Schemathesis' configuration of this run, derived from the contract and the target, with the
    operations `off` turned off; with `only`, every other operation too. (In config: Schemathesis 4.32.5
    ignores a schema's `include()` once operations are configured.)"""
    operations: list[dict[str, Any]] = []
    config: dict[str, Any] = {
        "generation": {"max-examples": target.max_examples, "deterministic": True, "no-shrink": not target.shrink},
        "analysis": {"constants": {"enabled": False}},
        "operations": operations,
        # Undeclared methods are their own test (contracts/test_methods.py): an edge that answers them
        # itself must not mask every other finding of an operation.
        "phases": {"coverage": {"unexpected-methods": []}},
    }
    if target.live:
        config["tls-verify"] = target.tls.verify
        if target.tls.cert:
            config["request-cert"] = target.tls.cert
        if target.tls.key:
            config["request-cert-key"] = target.tls.key
        # An undeclared status is drift (contracts.drift), reported, and failing only with LEADVIBE_STRICT=1.
        config["checks"] = {"status_code_conformance": {"enabled": False}}
    operations += [{"include-operation-id": op_id, "enabled": False} for op_id in sorted(off)]
    if only is not None:
        operations.append({"exclude-operation-id": only, "enabled": False})
    return config


@dataclass(repr=False)
class Run:
    target: Target
    contract: Contract
    client: ApiClient
    schema: OpenApiSchema
    safety: LiveSafety
    owned: OwnedLeads | None
    checks: list[Check]
    reset: Callable[[], None] = lambda: None  # back to the seed: the in-process mock only
    transport: GuardedTransport | None = None
    notes: list[str] = field(default_factory=list)
    throttle: Throttle | None = None
    retries: RetryPolicy | None = None
    ledger: Ledger | None = None

    drift: DriftCollector | None = None  # live targets: undeclared fields, headers, statuses (contracts.drift)
    # The schema of one operation alone (None: all), configured like `schema`; and the operations this run
    # must not exercise, with the reason (read-only, refused by safety).
    schema_factory: Callable[[str | None], OpenApiSchema] | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    _schemas: dict[str, OpenApiSchema] = field(default_factory=dict)
    quiet: Quiet = field(default_factory=Quiet)  # sections in which no other worker writes (contracts.quiet)
    coverage: Coverage | None = None  # what the run reached of the contract (contracts.coverage)
    failing: FailingCases = field(default_factory=FailingCases)  # for the summary's reproducers

    def __repr__(self) -> str:  # tracebacks show fixtures' reprs: never the client, schema or credentials
        return f"<Run against {self.target.base_url or 'the in-process mock'}, run id {self.target.run_id}>"

    @property
    def token(self) -> str:
        return self.target.token

    @property
    def other_tokens(self) -> tuple[str, ...]:
        return self.target.other_tokens

    def note(self, text: str) -> None:
        """Something the run saw that is not a verdict (reported once, at the end)."""
        if text not in self.notes:
            self.notes.append(text)

    def settings(self, examples: int) -> settings:
        """Hypothesis settings of a semantic contract: bounded by the run's example budget, reproducible."""
        return settings(
            max_examples=max(1, min(examples, self.target.max_examples)),
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[phase for phase in Phase if self.target.shrink or phase is not Phase.shrink],
        )

    def schema_of(self, operation_id: str) -> OpenApiSchema:
        """A schema of this one operation: one test per operation, so that workers share them out."""
        if operation_id not in self._schemas:
            assert self.schema_factory is not None
            self._schemas[operation_id] = self.schema_factory(operation_id)
        return self._schemas[operation_id]

    def facts(self) -> dict[str, Any]:
        """What the run did besides passing or failing, as plain data: a worker sends it to the controller."""
        return {
            "retries": list(self.retries.log) if self.retries is not None else [],
            "notes": list(self.notes),
            "refused_writes": list(self.safety.refused_writes),
            "not_owned": list(self.owned.refusals) if self.owned is not None else [],
            "drift": self.drift.report() if self.drift is not None else None,
            "coverage": self.coverage.data() if self.coverage is not None else {},
        }

    def call_and_validate(self, case: Any) -> None:
        """Send a generated case (made safe first), then judge the answer with every check."""
        self.safety.prepare(case)
        response = case.call()  # live: the guarded transport observes the answer (contracts.guard)
        with self.failing.watch(case, response):
            case.validate_response(response, additional_checks=self.checks)

    def state_machine(self) -> type[Any]:
        """Schemathesis' state machine over the spec's links, bound to this run."""
        run = self

        class LeadWorkflow(self.schema.as_state_machine()):  # type: ignore[misc]
            def setup(self) -> None:
                run.reset()  # each scenario starts from the seed (in-process mock), or Hypothesis sees flaky data

            def before_call(self, case: Any) -> None:
                run.safety.prepare(case)

            def validate_response(
                self, response: Any, case: Any, additional_checks: list[Any] | None = None, **kwargs: Any
            ) -> None:
                with run.failing.watch(case, response):
                    super().validate_response(response, case, [*(additional_checks or []), *run.checks], **kwargs)

        return LeadWorkflow


def token_names(target: Target) -> TokenNames:
    return TokenNames({target.token: "LEADVIBE_TOKEN", **dict.fromkeys(target.other_tokens, "LEADVIBE_OTHER_OU_TOKEN")})


def build_run(
    target: Target,
    app: Any = None,
    reset: Callable[[], None] | None = None,
    gate: Throttle | None = None,
    blockage: Blockage | None = None,
    quiet: Quiet | None = None,
    lost: Blockage | None = None,
) -> Run:
    """A run against `target`; `app` is the WSGI app of an in-process target (with `reset`); `gate` the
    run's throttle when the caller already spent some of its budget (the runner's preflight) or shares it
    with other workers of the run, as `blockage`, `quiet` and `lost` (contracts.fanout)."""
    quiet = quiet or Quiet()
    contract = load_contract(target.spec_path)
    read_only = target.live and not target.allow_writes
    names = token_names(target)
    transport = None
    client: ApiClient
    retries = RetryPolicy(attempts=target.retries, lost=lost or Blockage())
    gate = gate or Throttle(target.rate_limit, target.max_requests, target.cleanup_reserve)
    ledger = None
    if target.live:
        assert target.base_url is not None
        client = HttpClient(
            target.base_url,
            target.request_timeout,
            gate,
            names,
            read_only=read_only,
            retries=retries,
            tls=target.tls,
            writing=quiet.writing,
        )
        ledger = Ledger(target.run_dir / "ledger.jsonl", target.base_url, token_id(target.token))
    else:
        from contracts.inprocess import WsgiClient, fresh_mock  # the only path that imports the mock

        if app is None:
            mock = fresh_mock(target.spec_path)
            app, reset = mock.app, mock.reset
        client = WsgiClient(app, names)
    owned = None
    if target.allow_writes:
        owned = OwnedLeads(client, target.token, target.run_id, target.wait_timeout, ledger, gate.book, blockage)
    safety = LiveSafety(contract, owned if target.live else None, read_only=read_only)
    if isinstance(client, HttpClient):
        client.guard = safety.check_sent
    refused = safety.refused if target.live and target.allow_writes else {}
    skipped = switched_off(target, contract, refused)
    if target.live:
        transport = GuardedTransport(
            st_transport.get(None),
            gate.acquire,
            retries,
            read_only=read_only,
            check=safety.check_case,
            observe=safety.observe,
            writing=quiet.writing,
        )

    coverage = Coverage(contract)
    client.observe = coverage.observe_request

    def schema_of(only: str | None) -> OpenApiSchema:
        config = schemathesis.Config.from_dict(schema_config(target, contract, skipped, only))
        schema = schemathesis.openapi.from_path(target.spec_path or default_spec_path(), config=config)
        schema.hook("after_call")(coverage.hook())
        schema.config.update(headers={"Authorization": f"Bearer {target.token}"})  # auth in config, not hooks
        if transport is None:
            schema.app = app
            return schema
        schema.config.update(base_url=target.base_url, request_timeout=target.request_timeout)
        return guard(schema, transport)

    notes = [f"refused write operation {op_id}: {reason}" for op_id, reason in sorted(refused.items())]
    # The mock is held to exactly the declared fields; a deployment's extras are drift, reported.
    drift = DriftCollector(contract, redact=Redactor(target.secrets)) if target.live else None
    extra: list[Check] = [drift.check()] if drift is not None else [exactly_the_declared_fields(contract)]
    return Run(
        target,
        contract,
        client,
        schema_of(None),
        safety,
        owned,
        [*contract_checks(contract), *extra],
        reset or (lambda: None),
        transport,
        notes,
        gate,
        retries,
        ledger,
        drift,
        schema_of,
        skipped,
        quiet=quiet,
        coverage=coverage,
    )
