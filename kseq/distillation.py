"""`kseq distill --teacher RUN_DIR --data DIR`: sequence-level knowledge distillation (Kim and Rush, 2016).

A big teacher (trained on a GPU, decoding with beam search) translates the
training sources; a small student learns to write what the teacher wrote.
The student, decoding greedily on a phone, gets close to the teacher's beam.
The student's run directory is a normal one: it evaluates on the real
references and exports like any other. Its `distilled/` folder holds the
corpus it trained on.
"""

import argparse
import os
import sys

from kseq import run_directory as rd
from kseq.backends import load
from kseq.data import load_corpus
from kseq.evaluation import translate_all

DISTILLED_DIR = "distilled"


def distill_pairs(teacher, pairs, batch_size=64, verbose=True):
    """The pairs with each target replaced by the teacher's translation of the source."""
    sources = [source for source, _ in pairs]
    return list(zip(sources, translate_all(teacher, sources, batch_size, verbose)))


def write_tsv(path, pairs):
    with open(path, "w", encoding="utf-8") as f:
        for source, target in pairs:
            # A tab or a line break inside a side would break the file: spaces instead.
            f.write(f"{' '.join(source.split())}\t{' '.join(target.split())}\n")


def distill_corpus(teacher_dir, data, out_dir, beam_width=4, with_references=False, batch_size=64,
                   skip_bad_lines=False):
    """Writes OUT_DIR/distilled/{train,valid,test}.tsv: the teacher's training targets
    (plus the original pairs with `with_references`), the real valid and test pairs.
    Returns the directory."""
    corpus = load_corpus(data, skip_bad_lines=skip_bad_lines)
    teacher = load(teacher_dir, "keras", beam_width=beam_width)
    print(f"Distilling: the teacher ({teacher_dir}, beam {beam_width}) translates "
          f"{len(corpus.train)} training sources...", flush=True)
    train = distill_pairs(teacher, corpus.train, batch_size, verbose=sys.stdout.isatty())
    train = [(s, t) for s, t in train if t.strip()]  # an empty translation teaches nothing
    if with_references:
        train += corpus.train
    directory = os.path.join(out_dir, DISTILLED_DIR)
    os.makedirs(directory, exist_ok=True)
    for split, pairs in (("train", train), ("valid", corpus.valid), ("test", corpus.test)):
        write_tsv(os.path.join(directory, f"{split}.tsv"), pairs)
    return directory


def main(argv=None):
    from kseq import training

    parser = argparse.ArgumentParser(
        prog="kseq distill", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Every `train.py` flag is taken too (--preset small, --epochs, --out ...).")
    parser.add_argument("--teacher", required=True, metavar="RUN_DIR", help="The teacher's run directory.")
    parser.add_argument("--beam-width", type=int, default=4, help="The teacher's beam (default: 4).")
    parser.add_argument("--with-references", action="store_true",
                        help="Train on the original pairs as well as on the teacher's translations.")
    args, train_argv = parser.parse_known_args(argv)
    train_args = training.parse_args(train_argv)
    if not train_args.data:
        parser.error("--data is required: the corpus whose training sources the teacher translates.")
    if args.beam_width < 1:
        parser.error(f"--beam-width must be at least 1. Received: {args.beam_width}")
    try:
        rd.load_config(args.teacher)  # fails early, naming the file, if it is not a run
        out = rd.prepare(train_args.out)
        data = distill_corpus(args.teacher, train_args.data, out, args.beam_width, args.with_references,
                              skip_bad_lines=train_args.skip_bad_lines)
        settings = training.settings_from_args(train_args)
        settings.update(data=data, teacher=os.path.abspath(args.teacher), teacher_beam_width=args.beam_width,
                        with_references=args.with_references)
        training.train(settings, out, export=not train_args.no_export)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
