"""The lead domain, free of HTTP: the store, its indexes, scoring, the seed and time."""
