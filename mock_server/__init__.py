"""A stateful mock server of the LeadVibe lead API, driven by openapi.yaml."""
