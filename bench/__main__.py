"""Entry point of `python -m bench` (and `make bench`)."""

from bench.cli import main

raise SystemExit(main())
