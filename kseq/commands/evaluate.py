"""kseq evaluate RUN_DIR --data PATH [--backend all]: BLEU, chrF, exact match and speed of each backend."""

import os
import sys

from kseq.backends import BACKENDS, load
from kseq.commands.translate import add_backend_arguments
from kseq.data import load_corpus, read_tsv
from kseq.evaluation import evaluate
from kseq.public_corpora import resolve_data
from kseq.run_directory import RunDirectory, write_json

HELP = "BLEU, chrF and speed for each backend."
EVALUATION_FILE = "evaluation.json"


def add_arguments(parser):
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--data", required=True,
                        help="A TSV file (all its pairs), a directory (its test split), or a public corpus "
                        "(spa-eng: its test split).")
    parser.add_argument("--backend", choices=("all",) + BACKENDS, default="keras",
                        help="all: every backend the run directory has files for.")
    add_backend_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, help="Only the first N pairs.")
    parser.add_argument("--json", help=f"Where to write the results (default: RUN_DIR/{EVALUATION_FILE}).")


def run(args):
    run_directory = RunDirectory(args.run_dir)
    run_directory.config  # fails early, naming the file, if RUN_DIR is not a run
    args.data = resolve_data(args.data)
    pairs = load_corpus(args.data).test if os.path.isdir(args.data) else read_tsv(args.data)
    pairs = pairs[: args.limit] if args.limit else pairs
    targets = run_directory.exported_backends() if args.backend == "all" else [(args.backend, args.variant)]
    rows = []
    for backend, variant in targets:
        print(f"{backend} {variant}:", file=sys.stderr)
        beam_width = args.beam_width if backend in ("keras", "saved_model") else 1
        translator = load(run_directory.path, backend, variant, beam_width=beam_width, batch_size=args.batch_size)
        scores, _ = evaluate(translator, pairs, args.batch_size, verbose=True)
        rows.append({"backend": backend, "variant": variant, "beam_width": beam_width, **scores})
    print(f"\n{'backend':<12} {'variant':<8} {'beam':>4} {'BLEU':>6} {'chrF':>6} {'exact %':>8} {'sent/s':>8}")
    for row in rows:
        print(f"{row['backend']:<12} {row['variant']:<8} {row['beam_width']:>4} {row['bleu']:>6.2f} "
              f"{row['chrf']:>6.2f} {row['exact_match']:>8.1f} {row['sentences_per_second']:>8.1f}")
    out = args.json or run_directory.file(EVALUATION_FILE)
    write_json(out, {"data": args.data, "sources": rows[0]["sentences"], "results": rows})
    print(f"\nWritten to {out}")
