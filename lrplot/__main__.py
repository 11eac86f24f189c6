"""Run the command line: ``python -m lrplot``."""

from lrplot.cli import main

main()
