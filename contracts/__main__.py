"""`python -m contracts`: the same as `leadvibe-contracts`."""

from contracts.runner import entry

entry()
