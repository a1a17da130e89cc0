"""python train.py [--data PATH] [--preset small] [--out RUN_DIR]: the same as `kseq train [...]`.

data -> tokenizer -> model -> fit -> evaluate -> export; the job reads top to
bottom in `kseq/training.py`, the flags are in `kseq/commands/train.py`.
"""

import sys

from kseq.commands import main

if __name__ == "__main__":
    main(["train", *sys.argv[1:]])
