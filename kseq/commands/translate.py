"""kseq translate RUN_DIR [TEXT ...]: translate (or summarize, generate: the run's task) texts,
or stdin line by line, with any backend."""

import json
import sys

from kseq.backends import BACKENDS, VARIANTS, load
from kseq.batch_translation import translate_batches
from kseq.run_directory import RunDirectory
from kseq.tasks import output_key

HELP = "Translate (or summarize, generate: the run's task) arguments, or stdin line by line."


def add_backend_arguments(parser):
    """--backend, --variant and --beam-width, shared with `kseq evaluate`."""
    parser.add_argument("--variant", choices=VARIANTS, default="float32", help="TFLite weights.")
    parser.add_argument("--beam-width", type=int, default=1,
                        help="Beam search with N hypotheses (keras, saved_model); 1: greedy.")


def add_arguments(parser):
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("text", nargs="*", metavar="TEXT", help="Sentences (default: read stdin).")
    parser.add_argument("--backend", choices=BACKENDS, default="keras")
    add_backend_arguments(parser)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", action="store_true",
                        help="One JSON object per line, keyed by the run's task "
                        '({"translation_text": ...}, {"summary_text": ...}, {"generated_text": ...}).')


def run(args):
    translator = load(args.run_dir, args.backend, args.variant, beam_width=args.beam_width)
    key = output_key(RunDirectory(args.run_dir).task)

    def show(outputs):  # lines of text, or with --json lines labelled by the run's task
        for output in outputs:
            print(json.dumps({key: output}, ensure_ascii=False) if args.json else output, flush=True)

    if args.text:
        show(translate_batches(translator, args.text, args.batch_size)[0])
        return
    for line in sys.stdin:  # streamed: one line in, one line out
        show(translate_batches(translator, [line.rstrip("\r\n")])[0])
