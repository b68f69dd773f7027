"""`python -m louyu` runs the `louyu` command."""

from louyu.cli import main

main()
