"""How a semantic contract fails: loudly, naming the contract, with a curl reproducer per response.

The exception keeps what it says as data (`Violation`: the contract, the reason, the responses that show
it), so that the run summary records the failure without reading its text back (contracts/findings.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.client import ApiResponse


@dataclass(frozen=True)
class Violation:
    contract: str
    reason: str
    evidence: tuple[ApiResponse, ...] = ()

    def __str__(self) -> str:
        shown = "\n".join(response.describe() for response in self.evidence)
        return f"contract `{self.contract}` violated: {self.reason}\n{shown}"


class ContractViolation(AssertionError):
    """One or more semantic contracts do not hold; the message names each and shows how to reproduce it."""

    def __init__(self, *violations: Violation) -> None:
        self.violations = violations
        count = len(violations)
        text = str(violations[0]) if count == 1 else f"{count} violations:\n\n" + "\n\n".join(map(str, violations))
        super().__init__(text)


def expect(condition: bool, contract: str, reason: str, *evidence: ApiResponse) -> None:
    if not condition:
        raise ContractViolation(Violation(contract, reason, evidence))


def expect_status(response: ApiResponse, status: int, contract: str, reason: str) -> None:
    expect(response.status == status, contract, f"{reason}: expected {status}, got {response.status}", response)


class Findings:
    """Every sub-check of a contract, collected: one failing sub-check does not hide the others.

    (A missing `WWW-Authenticate` challenge must not hide that an invalid token was accepted.)
    """

    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def expect(self, condition: bool, contract: str, reason: str, *evidence: ApiResponse) -> None:
        if not condition:
            self.violations.append(Violation(contract, reason, evidence))

    def check(self) -> None:
        """Fail with every violation found, if any."""
        if self.violations:
            raise ContractViolation(*self.violations)
