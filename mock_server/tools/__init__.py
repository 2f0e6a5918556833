"""What a developer drives while the mock runs: admin API, faults, journal, scenarios, reload."""
