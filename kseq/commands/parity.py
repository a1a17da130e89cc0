"""kseq parity RUN_DIR [--data TSV]: do all exports decode like Keras?

Translates every source with the Keras model, the SavedModel and the float32
TFLite text and ids models, and reports the share of sentences whose token
ids are identical to Keras' (and of identical strings), with the first
disagreement of each backend.
"""

import json

from export.parity import check_parity
from kseq.data import load_corpus, read_tsv
from kseq.evaluation import group_references
from kseq.run_directory import RunDirectory

HELP = "Check that every export decodes exactly like the Keras model."


def add_arguments(parser):
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--data", help="A TSV file to translate (default: the run's test split).")
    parser.add_argument("--limit", type=int, help="Only the first N sources.")


def run(args):
    pairs = read_tsv(args.data) if args.data else load_corpus(RunDirectory(args.run_dir).settings.get("data")).test
    texts, _ = group_references(pairs)
    print(json.dumps(check_parity(args.run_dir, texts[: args.limit]), indent=2, ensure_ascii=False))
