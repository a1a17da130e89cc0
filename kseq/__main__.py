"""python -m kseq COMMAND ...: the `kseq` command."""

from kseq.commands import main

main()
