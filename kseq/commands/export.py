"""kseq export RUN_DIR [--formats saved_model,tflite] [--quantize float16,dynamic]: the model for TF Serving and phones.

Writes RUN_DIR/saved_model/<next version>/ and RUN_DIR/tflite/, each
atomically: a failed export leaves the earlier artifacts as they were.
"""

import argparse
import importlib

from kseq.run_directory import EXPORT_FORMATS as FORMATS
from kseq.run_directory import TFLITE_VARIANTS

HELP = "Export a run: SavedModel (TF Serving) and TFLite (LiteRT)."


def comma_separated(choices):
    def parse(text):
        values = [v for v in text.split(",") if v]
        for value in values:
            if value not in choices:
                raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(choices)}")
        return values
    return parse


def add_arguments(parser):
    parser.add_argument("run_dir", metavar="RUN_DIR", help="A run directory written by `kseq train`.")
    parser.add_argument("--formats", type=comma_separated(FORMATS), default=list(FORMATS),
                        help="Comma-separated: saved_model,tflite (default: both).")
    parser.add_argument("--quantize", type=comma_separated(TFLITE_VARIANTS[1:]), default=[],
                        help="Extra TFLite variants: float16,dynamic (dynamic-range int8).")
    parser.add_argument("--max-output-length", type=int, metavar="N",
                        help="Most output tokens (default: the model's max_target_length).")
    parser.add_argument("--overwrite", action="store_true", help="Replace an existing tflite/ directory.")
    parser.add_argument("--beam-width", type=int, default=4, metavar="N",
                        help="Hypotheses of the SavedModel's translate_beam signature (default: 4).")
    parser.add_argument("--length-penalty", type=float, default=0.6, metavar="ALPHA",
                        help="GNMT length penalty exponent of translate_beam (default: 0.6).")
    parser.add_argument("--tflite-beam", action="store_true",
                        help="Also tflite/translator_ids_beam.tflite: the ids model with beam search "
                        "(builtin ops only).")


def tensorflow_available():
    """Whether TensorFlow and tensorflow-text import here (the exports need both)."""
    try:
        importlib.import_module("tensorflow")
        importlib.import_module("tensorflow_text")
    except ImportError:
        return False
    return True


def export_or_explain(run, log=print):
    """Exports the run (a `RunDirectory`) where TensorFlow imports; elsewhere prints the command that will."""
    if not tensorflow_available():
        log(f"TensorFlow is not installed here: export the run where it is, with `kseq export {run.path}`.")
        return
    from kseq.console import quiet_tensorflow

    quiet_tensorflow()
    from export.export_run import export_run

    export_run(run.path)


def run(args):
    from export.export_run import export_run
    from kseq.decoding_strategy import Beam

    beam = Beam(args.beam_width, args.length_penalty)  # translate_beam's search, whatever its width
    export_run(args.run_dir, args.formats, args.quantize, args.max_output_length, args.overwrite,
               log=lambda message: print(message, flush=True), beam=beam, tflite_beam=args.tflite_beam)
