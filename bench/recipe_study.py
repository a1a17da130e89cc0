"""The training recipe, one piece at a time: test BLEU of each variant of a preset, side by side.

    python bench/recipe_study.py --data spa-eng --preset small --epochs 30 \
        [--variants baseline,dropout-0.3,...] [--minutes 8] [--json OUT] [any train.py flag]

Every variant is the preset (with the flags given) plus one change, trained by
`train.py`'s own job (`kseq.training.train`, no export) for the same epochs and
scored on the whole test split (greedy, cased sacrebleu BLEU and chrF against
every reference of a source). `--minutes` stops starting variants once the next
would end past it (the time of the slowest so far is the estimate). The
variants run in the order given: put the ones that matter first.
"""

import argparse
import os
import sys
import tempfile
import time

import keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kseq.commands import train  # noqa: E402
from kseq.run_directory import RunDirectory, write_json  # noqa: E402
from kseq.training import train as run_training  # noqa: E402

# One change each against the preset; the recipe pieces.
VARIANTS = {
    "baseline": {},
    "dropout-0.1": {"dropout": 0.1},
    "dropout-0.3": {"dropout": 0.3},
    "attention-dropout-0.1": {"attention_dropout": 0.1},
    "no-label-smoothing": {"label_smoothing": 0.0},
    "subword-sampling-0.5": {"subword_alpha": 0.5},
    "ema-0.998": {"ema_momentum": 0.998},
    "vocabulary-4000": {"vocabulary_size": 4000},
    "vocabulary-16000": {"vocabulary_size": 16000},
    "layers-3+3": {"num_encoder_layers": 3, "num_decoder_layers": 3},
    "width-384": {"hidden_dim": 384, "num_heads": 6, "intermediate_dim": 1536},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"Comma-separated, in order (default: all): {', '.join(VARIANTS)}.")
    parser.add_argument("--minutes", type=float, help="Start no variant that would end past this.")
    parser.add_argument("--json", help="Also write the rows here.")
    train.add_arguments(parser.add_argument_group("training (as `kseq train`)"))
    args = parser.parse_args(argv)
    args.argv = []
    train.check_arguments(args)
    unknown = [name for name in args.variants.split(",") if name not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {unknown[0]!r}: choose from {', '.join(VARIANTS)}")
    out = args.out or tempfile.mkdtemp(prefix="kseq-recipes-")
    started, slowest, rows = time.perf_counter(), 0.0, []
    for name in args.variants.split(","):
        elapsed = time.perf_counter() - started
        if args.minutes and elapsed + slowest > 60 * args.minutes:
            print(f"{name}: not run, it would end past {args.minutes:g} minutes.", flush=True)
            continue
        config = train.config_from_args(args).replace(**VARIANTS[name])
        run = RunDirectory.create(os.path.join(out, name))
        print(f"\n=== {name}: {VARIANTS[name] or 'the preset'} ===", flush=True)
        variant_started = time.perf_counter()
        metrics = run_training(config, run)
        seconds = time.perf_counter() - variant_started
        slowest = max(slowest, seconds)
        rows.append({"variant": name, "change": VARIANTS[name], "bleu": metrics["keras"]["bleu"],
                     "chrf": metrics["keras"]["chrf"], "parameters": run.load_model().count_params(),
                     "seconds": round(seconds), "run": run.path})
        keras.backend.clear_session()
        if args.json:
            write_json(args.json, rows)  # after each variant: a cut-off study keeps what it measured

    print(f"\nPreset {args.preset}, {args.epochs or 'its'} epochs, Keras {keras.__version__} on "
          f"{keras.backend.backend()}; whole test split, greedy.")
    print("| variant | change | parameters | BLEU | chrF | seconds |\n| --- | --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        change = ", ".join(f"{k}={v}" for k, v in row["change"].items()) or "(the preset)"
        print(f"| {row['variant']} | {change} | {row['parameters']:,} | {row['bleu']:.2f} | {row['chrf']:.2f} "
              f"| {row['seconds']} |")


if __name__ == "__main__":
    main()
