"""Decoding speed per backend: ms per sentence and per generated token.

    python bench/decoding_speed.py RUN_DIR [--data TSV] [--limit 200] [--threads 2]

Over the first `--limit` sources: Keras (graph mode) with and without the
key/value cache (the uncached path re-runs the decoder over the prefix at
every step, the same greedy loop with another step function), the SavedModel,
and the TFLite text and ids models in each exported variant. Batch 1 for
every backend, and batch 32 for the ones that take a batch. Each figure is
the median of `--repeats` passes.
"""

import argparse
import os
import platform
import statistics
import time

import numpy as np
import tensorflow as tf

from kseq import run_directory as rd
from kseq.backends import KerasBackend, load, tflite_path
from kseq.data import load_corpus, read_tsv
from kseq.decoding import greedy_decode
from kseq.evaluation import group_references
from kseq.tokenizer import PAD_ID


class UncachedKeras(KerasBackend):
    """Keras decoding without the cache: the reference the cache must beat."""

    def __init__(self, run_dir):
        super().__init__(run_dir)
        translator = self.translator
        self._decode = tf.function(
            lambda ids: greedy_decode(translator.model, ids, translator.max_length, use_cache=False),
            input_signature=[tf.TensorSpec([None, None], tf.int32)])

    def translate(self, texts):
        ids = self._decode(self.translator.source_ids(tf.constant(list(texts))))
        return None, ids.numpy()


def time_backend(backend, sources, batch_size, repeats):
    backend.translate(sources[:batch_size])  # warm up, trace
    passes = []
    for _ in range(repeats):
        tokens, started = 0, time.perf_counter()
        for start in range(0, len(sources), batch_size):
            _, ids = backend.translate(sources[start : start + batch_size])
            tokens += int((ids != PAD_ID).sum())
        passes.append((time.perf_counter() - started, tokens))
    seconds, tokens = sorted(passes)[len(passes) // 2]
    return 1000 * seconds / len(sources), 1000 * seconds / tokens


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--data", help="A TSV file (default: the run's test split).")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    config = rd.load_config(args.run_dir)
    pairs = read_tsv(args.data) if args.data else load_corpus(config["settings"]["data"]).test
    sources = group_references(pairs)[0][: args.limit]

    candidates = [("keras, cached", lambda: load(args.run_dir, "keras"), (1, 32)),
                  ("keras, no cache", lambda: UncachedKeras(args.run_dir), (1, 32)),
                  ("saved_model", lambda: load(args.run_dir, "saved_model"), (1, 32))]
    for backend, kind in (("tflite", "text"), ("tflite_ids", "ids")):
        for variant in ("float32", "float16", "dynamic"):
            try:
                tflite_path(args.run_dir, kind, variant)
            except FileNotFoundError:
                continue
            candidates.append((f"{backend} {variant}",
                               lambda b=backend, v=variant: load(args.run_dir, b, v, num_threads=args.threads),
                               (1,)))
    rows = []
    for name, make, batch_sizes in candidates:
        backend = make()
        for batch_size in batch_sizes:
            per_sentence, per_token = time_backend(backend, sources, batch_size, args.repeats)
            rows.append((name, batch_size, per_sentence, per_token))
            print(f"{name}, batch {batch_size}: {per_sentence:.2f} ms/sentence, {per_token:.3f} ms/token", flush=True)

    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} CPUs; {len(sources)} sources; "
          f"LiteRT {args.threads} threads; median of {args.repeats} passes.\n")
    print("| backend | batch | ms/sentence | ms/token |\n| --- | ---: | ---: | ---: |")
    for name, batch_size, per_sentence, per_token in rows:
        print(f"| {name} | {batch_size} | {per_sentence:.2f} | {per_token:.3f} |")
    cached = {b: s for n, b, s, _ in rows if n == "keras, cached"}
    uncached = {b: s for n, b, s, _ in rows if n == "keras, no cache"}
    for batch_size in cached:
        print(f"\nThe cache, batch {batch_size}: {uncached[batch_size] / cached[batch_size]:.2f} x faster per sentence.")


if __name__ == "__main__":
    main()
