"""Tools the project points at openapi.yaml: npm packages at exact versions, the spec linters."""
