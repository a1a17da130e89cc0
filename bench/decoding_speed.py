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
`bench/decoding_speed.png`. Each row gives its artifact's size on disk.

What the cache buys grows with the output's length, so the cached and
uncached Keras paths are timed again on long inputs: consecutive sources
joined until each has `--long-tokens` source pieces (outputs of about as
many tokens).
"""

import argparse
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.peers import keras_io_translation as peer  # noqa: E402
from kseq.backends import KerasTranslator, load  # noqa: E402
from kseq.batch_translation import translate_batches  # noqa: E402
from kseq.data import load_corpus, read_tsv  # noqa: E402
from kseq.decoding_strategy import Greedy  # noqa: E402
from kseq.evaluation import group_references  # noqa: E402
from kseq.run_directory import TFLITE_VARIANTS, RunDirectory  # noqa: E402
from kseq.special_ids import PAD_ID  # noqa: E402


def time_translator(translator, sources, batch_size, repeats):
    translator.translate(sources[:batch_size])  # warm up, trace
    passes = []
    for _ in range(repeats):
        started = time.perf_counter()
        _, ids = translate_batches(translator, sources, batch_size)
        passes.append((time.perf_counter() - started, int((ids != PAD_ID).sum())))
    seconds, tokens = sorted(passes)[len(passes) // 2]
    return 1000 * seconds / len(sources), 1000 * seconds / tokens


def size_mb(path):
    """A file's or a directory tree's size in MB."""
    if os.path.isfile(path):
        return os.path.getsize(path) / 1e6
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, names in os.walk(path) for name in names) / 1e6


def joined_sources(sources, vocabulary, tokens):
    """Consecutive sources joined until each holds at least `tokens` pieces."""
    joined, current = [], []
    for source in sources:
        current.append(source)
        if len(vocabulary.encode([" ".join(current)])[0]) >= tokens:
            joined.append(" ".join(current))
            current = []
    return joined


def trained_peer(pairs, minutes):
    """The keras.io recipe trained for `minutes`, as a `translate(texts)` translator."""
    from kseq.time_budget import TimeBudget

    translator = peer.PeerTranslator.build(pairs)
    translator.fit(pairs, [TimeBudget(minutes)])
    return translator


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{name}, batch {batch_size}" for name, batch_size, *_ in rows]
    figure, axis = plt.subplots(figsize=(7, 0.35 * len(rows) + 1))
    axis.barh(labels, [per_token for _, _, _, per_token, _ in rows], color="tab:blue")
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
    parser.add_argument("--long-tokens", type=int, default=40,
                        help="Source pieces per joined input for the cache at long outputs (0: skip).")
    args = parser.parse_args(argv)

    run = RunDirectory(args.run_dir)
    corpus = load_corpus(run.settings.get("data"))
    pairs = read_tsv(args.data) if args.data else corpus.test
    sources = group_references(pairs)[0][: args.limit]

    naive = Greedy(use_cache=False)
    candidates = [("keras, cached", lambda: load(run.path, "keras"), (1, 32), run.model_path),
                  ("keras, no cache", lambda: KerasTranslator.from_run_dir(run.path, decoding=naive), (1, 32),
                   run.model_path)]
    if run.saved_model_versions():
        candidates.append(("saved_model", lambda: load(run.path, "saved_model"), (1, 32),
                           run.latest_saved_model_path()))
    for backend, kind in (("tflite", "text"), ("tflite_ids", "ids")):
        for variant in TFLITE_VARIANTS:
            path = run.tflite_path(kind, variant, check=False)
            if not os.path.isfile(path):
                continue
            candidates.append((f"{backend} {variant}",
                               lambda b=backend, v=variant: load(args.run_dir, b, v, num_threads=args.threads),
                               (1,), path))
    if args.peer_minutes:
        candidates.append((f"keras.io recipe ({args.peer_minutes:g} min trained)",
                           lambda: trained_peer(corpus.train, args.peer_minutes), (1, 32), None))
    rows = []
    for name, make, batch_sizes, path in candidates:
        translator = make()
        # The peer is not saved: its size is its float32 weights.
        size = size_mb(path) if path else 4 * translator.model.count_params() / 1e6
        for batch_size in batch_sizes:
            per_sentence, per_token = time_translator(translator, sources, batch_size, args.repeats)
            rows.append((name, batch_size, per_sentence, per_token, size))
            print(f"{name}, batch {batch_size}: {per_sentence:.2f} ms/sentence, {per_token:.3f} ms/token, "
                  f"{size:.1f} MB", flush=True)

    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} CPUs; {len(sources)} sources; "
          f"LiteRT {args.threads} threads; median of {args.repeats} passes.\n")
    print("| backend | batch | ms/sentence | ms/token | MB |\n| --- | ---: | ---: | ---: | ---: |")
    for name, batch_size, per_sentence, per_token, size in rows:
        print(f"| {name} | {batch_size} | {per_sentence:.2f} | {per_token:.3f} | {size:.1f} |")
    print_ratios(rows)
    if args.long_tokens:
        print_long_outputs(args.run_dir, sources, args.long_tokens, args.repeats)
    plot(rows, os.path.join(os.path.dirname(os.path.abspath(__file__)), "decoding_speed.png"))


def print_ratios(rows):
    per_sentence = {(name, batch_size): ms for name, batch_size, ms, _, _ in rows}
    for batch_size in (1, 32):
        print(f"\nThe cache, batch {batch_size}: "
              f"{per_sentence['keras, no cache', batch_size] / per_sentence['keras, cached', batch_size]:.2f}"
              " x faster per sentence.")
    peer = [key for key in per_sentence if key[0].startswith("keras.io") and key[1] == 1]
    if peer and ("tflite float32", 1) in per_sentence:
        print(f"TFLite float32 against the peer's loop, batch 1: "
              f"{per_sentence[peer[0]] / per_sentence['tflite float32', 1]:.1f} x faster per sentence.")


def print_long_outputs(run_dir, sources, tokens, repeats):
    cached = load(run_dir, "keras")
    uncached = KerasTranslator.from_run_dir(run_dir, decoding=Greedy(use_cache=False))
    long_sources = joined_sources(sources, cached.source_vocabulary, tokens)
    _, ids = cached.translate(long_sources)
    generated = (ids != PAD_ID).sum(axis=1).mean()
    print(f"\nLong outputs: {len(long_sources)} inputs of {tokens}+ source pieces, "
          f"{generated:.1f} generated tokens on average.")
    for batch_size in (1, 32):
        with_cache, _ = time_translator(cached, long_sources, batch_size, repeats)
        without, _ = time_translator(uncached, long_sources, batch_size, repeats)
        print(f"The cache at long outputs, batch {batch_size}: {with_cache:.1f} vs {without:.1f} ms/sentence, "
              f"{without / with_cache:.2f} x faster.")


if __name__ == "__main__":
    main()
