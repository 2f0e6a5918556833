"""The LeadVibe conformance gate: Schemathesis and Hypothesis contracts against the mock or a deployment."""
