"""The `kseq` command: `kseq train [...]` runs train.py's job."""

import argparse
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="kseq", description="Train and ship seq2seq Transformers.")
    parser.add_argument("command", choices=("train",), help="train: the train.py job (see `kseq train --help`)")
    args = parser.parse_args(argv[:1])
    if args.command == "train":
        from kseq.training import main as train_main

        train_main(argv[1:])


if __name__ == "__main__":
    main()
