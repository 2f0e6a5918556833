from spec_compat.cli import main

main()
