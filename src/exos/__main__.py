"""`python -m exos`: the same as the `exos` command."""

from exos.cli import main

main()
