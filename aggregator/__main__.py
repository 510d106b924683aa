"""`python -m aggregator` runs the `aggregator` command."""

from aggregator.cli import main

main()
