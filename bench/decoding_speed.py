"""Decoding speed per backend: ms per sentence and per generated token.

    python bench/decoding_speed.py RUN_DIR [--data TSV] [--limit 200] [--threads 2] [--peer-minutes 10]

Over the first `--limit` sources: Keras (graph mode) with and without the
key/value cache (the uncached path re-runs the decoder over the prefix at
every step, the same greedy loop with another step function), the SavedModel,
the TFLite text and ids models in each exported variant, and the keras.io
KerasNLP recipe's own decoding loop (its model trained here for
`--peer-minutes` on the run's training data; 0 leaves it out). Batch 1 for
every backend, and batch 32 for the ones that take a batch. Each figure is
the median of `--repeats` passes; the table is also drawn, ms per token, in
`bench/decoding_speed.png`.
"""

import argparse
import os
import platform
import sys
import time

import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.peers import keras_io_translation as peer  # noqa: E402
from kseq import run_directory as rd  # noqa: E402
from kseq.backends import KerasBackend, load, tflite_path  # noqa: E402
from kseq.data import load_corpus, read_tsv  # noqa: E402
from kseq.decoding import greedy_decode  # noqa: E402
from kseq.evaluation import group_references  # noqa: E402
from kseq.tokenizer import PAD_ID  # noqa: E402


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


def trained_peer(pairs, minutes):
    """The keras.io recipe trained for `minutes`, as a `translate(texts)` backend."""
    from kseq.time_budget import TimeBudget

    translator = peer.PeerTranslator.build(pairs)
    translator.fit(pairs, [TimeBudget(minutes)])
    return translator


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{name}, batch {batch_size}" for name, batch_size, _, _ in rows]
    figure, axis = plt.subplots(figsize=(7, 0.35 * len(rows) + 1))
    axis.barh(labels, [per_token for *_, per_token in rows], color="tab:blue")
    axis.invert_yaxis()
    axis.set_xscale("log")
    axis.set_xlabel("ms per generated token (log scale, 2-core CPU)")
    axis.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--data", help="A TSV file (default: the run's test split).")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--peer-minutes", type=float, default=10)
    args = parser.parse_args(argv)

    config = rd.load_config(args.run_dir)
    corpus = load_corpus(config["settings"]["data"])
    pairs = read_tsv(args.data) if args.data else corpus.test
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
    if args.peer_minutes:
        candidates.append((f"keras.io recipe ({args.peer_minutes:g} min trained)",
                           lambda: trained_peer(corpus.train, args.peer_minutes), (1, 32)))
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
    plot(rows, os.path.join(os.path.dirname(os.path.abspath(__file__)), "decoding_speed.png"))


if __name__ == "__main__":
    main()
