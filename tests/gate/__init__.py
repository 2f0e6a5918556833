"""The gate's own test: the live-mode suite, over HTTP, against the mock and deliberately broken variants."""
