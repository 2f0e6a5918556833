"""`python -m mock_server`: the same as `leadvibe-mock`."""

from mock_server.cli import main

main()
