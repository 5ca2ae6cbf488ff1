"""`python -m vpsconform` runs the CLI (signals caught from the first moment, as the console script does)."""

from vpsconform.interrupts import main

main()
