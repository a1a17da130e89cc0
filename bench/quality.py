"""Quality per model and decoder: BLEU, chrF, size and decoding ms/token, side by side.

    python bench/quality.py RUN_DIR [RUN_DIR ...] [--data TEST.tsv]
        [--beam-widths 1,4] [--limit N] [--batch-size 64] [--json OUT]

For every run directory (a teacher, a student, recipes to compare) and every
beam width: sacrebleu BLEU (cased) and chrF against all references of each
source, exact match, the model's parameters and `model.keras` size, and
milliseconds per generated token (Keras backend, batch `--batch-size`, this
machine). Beam width 1 is the greedy decoding the phone runs.
"""

import argparse
import json
import os
import platform
import time

import keras

from kseq.backends import load
from kseq.batch_translation import translate_batches
from kseq.data import load_corpus, read_tsv
from kseq.evaluation import group_references, score
from kseq.run_directory import RunDirectory, write_json
from kseq.special_ids import PAD_ID


def measure(run_dir, sources, references, beam_width, batch_size):
    translator = load(run_dir, "keras", beam_width=beam_width, batch_size=batch_size)
    translator.translate(sources[:batch_size])  # compiles the decoder for the first shapes
    started = time.perf_counter()
    hypotheses, ids = translate_batches(translator, sources, batch_size)
    seconds = time.perf_counter() - started
    return {**score(hypotheses, references), "ms_per_token": round(1000 * seconds / int((ids != PAD_ID).sum()), 3)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("--data", help="A TSV file (default: each run's test split).")
    parser.add_argument("--beam-widths", default="1,4", help="Comma-separated (default: 1,4).")
    parser.add_argument("--limit", type=int, help="Only the first N sources.")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json", help="Also write the rows here.")
    args = parser.parse_args(argv)

    rows = []
    for run_dir in args.run_dirs:
        run = RunDirectory(run_dir)
        pairs = read_tsv(args.data) if args.data else load_corpus(run.settings.get("data")).test
        sources, references = group_references(pairs)
        sources, references = sources[: args.limit], references[: args.limit]
        model = run.load_model()
        for beam_width in (int(width) for width in args.beam_widths.split(",")):
            result = measure(run_dir, sources, references, beam_width, args.batch_size)
            rows.append({"run": run_dir, "beam_width": beam_width, "parameters": model.count_params(),
                         "model_mb": round(os.path.getsize(run.model_path) / 1e6, 2),
                         **result})
            print(json.dumps(rows[-1]), flush=True)
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} CPUs, Keras {keras.__version__} on "
          f"{keras.backend.backend()}; {rows[0]['sentences']} sources; batch {args.batch_size}.")
    print("| run | beam | parameters | model.keras MB | BLEU | chrF | exact % | ms/token |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['run']} | {row['beam_width']} | {row['parameters']:,} | {row['model_mb']} | {row['bleu']:.2f} "
              f"| {row['chrf']:.2f} | {row['exact_match']:.1f} | {row['ms_per_token']} |")
    if args.json:
        write_json(args.json, rows)


if __name__ == "__main__":
    main()
