"""Size, speed and quality of each exported TFLite variant of a run.

    python bench/tflite_variants.py RUN_DIR [--data TSV] [--limit N] [--threads 2] [--models text,ids] [--json OUT]

For the text and ids models in float32, float16 and dynamic-range int8:
file size, milliseconds per sentence and per generated token (batch 1,
LiteRT, `--threads` CPU threads), BLEU and chrF (sacrebleu, all references)
on the run's test split, and the share of sentences whose ids equal float32's.
"""

import argparse
import json
import os
import platform
import time

from kseq.backends import load
from kseq.data import load_corpus, read_tsv
from kseq.evaluation import group_references, score
from kseq.run_directory import TFLITE_VARIANTS, RunDirectory
from kseq.special_ids import PAD_ID


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--data", help="A TSV file (default: the run's test split).")
    parser.add_argument("--limit", type=int, help="Only the first N sources.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--models", default="text,ids", help="Which TFLite models: text, ids or both.")
    parser.add_argument("--json", help="Also write the rows here.")
    args = parser.parse_args(argv)

    run = RunDirectory(args.run_dir)
    pairs = read_tsv(args.data) if args.data else load_corpus(run.settings.get("data")).test
    sources, references = group_references(pairs)
    sources, references = sources[: args.limit], references[: args.limit]

    rows, reference_ids = [], {}
    models = args.models.split(",")
    for kind, backend in (("text", "tflite"), ("ids", "tflite_ids")):
        if kind not in models:
            continue
        for variant in TFLITE_VARIANTS:
            path = run.tflite_path(kind, variant, check=False)
            if not os.path.isfile(path):
                continue
            name = os.path.basename(path)
            translator = load(args.run_dir, backend, variant, num_threads=args.threads)
            translator.translate(sources[:3])  # warm up
            started = time.perf_counter()
            translations, ids = translator.translate(sources)
            seconds = time.perf_counter() - started
            tokens = int((ids != PAD_ID).sum())
            reference_ids.setdefault(kind, ids)
            rows.append({
                "file": name,
                "megabytes": round(os.path.getsize(path) / 1e6, 2),
                "ms_per_sentence": round(1000 * seconds / len(sources), 2),
                "ms_per_token": round(1000 * seconds / tokens, 3),
                "same_ids_as_float32": round(100 * float((ids == reference_ids[kind]).all(axis=1).mean()), 2),
                **{k: v for k, v in score(translations, references).items() if k in ("bleu", "chrf")},
            })
            print(json.dumps(rows[-1]), flush=True)

    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} CPUs; {len(sources)} sources; "
          f"LiteRT batch 1, {args.threads} threads.\n")
    print("| file | MB | ms/sentence | ms/token | BLEU | chrF | same ids as float32 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['file']} | {r['megabytes']} | {r['ms_per_sentence']} | {r['ms_per_token']} | "
              f"{r['bleu']} | {r['chrf']} | {r['same_ids_as_float32']} % |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sources": len(sources), "threads": args.threads, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
