"""``python -m benchgen`` runs the command line."""

from benchgen.cli import main

main()
