"""`python -m vpsconform` runs the CLI."""

from vpsconform.cli import main

main()
