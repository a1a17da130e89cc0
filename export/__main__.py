"""python -m export RUN_DIR [...]: the same as `kseq export RUN_DIR [...]`."""

import sys

from kseq.commands import main

if __name__ == "__main__":
    main(["export", *sys.argv[1:]])
