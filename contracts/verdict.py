"""How a semantic contract fails: loudly, naming the contract, with a curl reproducer per response."""

from __future__ import annotations

from contracts.client import ApiResponse


class ContractViolation(AssertionError):
    """A semantic contract does not hold; the message names it and shows how to reproduce it."""


def expect(condition: bool, contract: str, reason: str, *evidence: ApiResponse) -> None:
    if condition:
        return
    shown = "\n".join(response.describe() for response in evidence)
    raise ContractViolation(f"contract `{contract}` violated: {reason}\n{shown}")


def expect_status(response: ApiResponse, status: int, contract: str, reason: str) -> None:
    expect(response.status == status, contract, f"{reason}: expected {status}, got {response.status}", response)


class Findings:
    """Every sub-check of a contract, collected: one failing sub-check does not hide the others.

    (A missing `WWW-Authenticate` challenge must not hide that an invalid token was accepted.)
    """

    def __init__(self) -> None:
        self.violations: list[str] = []

    def expect(self, condition: bool, contract: str, reason: str, *evidence: ApiResponse) -> None:
        try:
            expect(condition, contract, reason, *evidence)
        except ContractViolation as violation:
            self.violations.append(str(violation))

    def check(self) -> None:
        """Fail with every violation found, if any."""
        if self.violations:
            count = len(self.violations)
            raise ContractViolation(f"{count} violation{'s' if count > 1 else ''}:\n\n" + "\n\n".join(self.violations))
