"""The LeadVibe contract model: openapi.yaml loaded once, and everything derived from it.

Both the mock (`mock_server`) and the conformance gate (`contracts`) read the contract from here; this
package imports neither of them.
"""

from leadvibe_contract.contract import (
    BodySpec,
    Contract,
    OperationSpec,
    ParameterSpec,
    SpecError,
    compile_spec,
    default_spec_path,
    load_contract,
    resolve_ref,
)
from leadvibe_contract.examples import ExampleRequest, example_request

__all__ = [
    "BodySpec",
    "Contract",
    "ExampleRequest",
    "OperationSpec",
    "ParameterSpec",
    "SpecError",
    "compile_spec",
    "default_spec_path",
    "example_request",
    "load_contract",
    "resolve_ref",
]
