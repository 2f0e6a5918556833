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
