"""Train a translator: python train.py [--data PATH] [--preset small] [--out RUN_DIR].

The whole job reads top to bottom in `kseq/training.py`:
data -> tokenizer -> model -> fit -> evaluate -> export.
"""

from kseq.training import main

if __name__ == "__main__":
    main()
