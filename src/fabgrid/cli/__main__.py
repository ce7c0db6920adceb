"""`python -m fabgrid.cli`: the same as the `fabgrid` script."""

from fabgrid.cli import main

main()
