"""Training throughput, kseq vs the keras.io KerasNLP recipe, at the peer's model size.

    python bench/training_throughput.py [--data spa-eng] [--steps 60] [--rounds 2]

Both train on the same pairs, 1 encoder + 1 decoder layer, width 256,
feed-forward 2048, 8 heads, vocabulary 15,000 (the peer has one per language
and a separate output layer; kseq one joint vocabulary, tied). Reported:
non-padding target tokens per second over `--steps` steps after a warm-up
that includes tracing, alternating the two `--rounds` times; the median.
"""

import argparse
import os
import platform
import statistics
import sys
import time

import keras
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.peers import keras_io_translation as peer  # noqa: E402
from kseq.batching import LengthBatches  # noqa: E402
from kseq.data import make_examples, read_tsv  # noqa: E402
from kseq.loss import SmoothedSparseCrossentropy  # noqa: E402
from kseq.model import Seq2SeqTransformer  # noqa: E402
from kseq.public_corpora import resolve_data  # noqa: E402
from kseq.vocabulary import Vocabulary, learn_vocabulary  # noqa: E402

WARMUP_STEPS = 5


def kseq_setup(pairs, tokens_per_batch):
    vocabulary = Vocabulary(learn_vocabulary((text for pair in pairs for text in pair), peer.VOCABULARY_SIZE))
    examples = make_examples(pairs, vocabulary, vocabulary, 64, 64)
    dataset = LengthBatches(examples.source, examples.target, tokens_per_batch, shuffle=True).as_tf_dataset().repeat()
    model = Seq2SeqTransformer(
        vocabulary_size=vocabulary.size, num_encoder_layers=1, num_decoder_layers=1,
        hidden_dim=peer.EMBED_DIM, num_heads=peer.NUM_HEADS, intermediate_dim=peer.INTERMEDIATE_DIM,
        dropout=0.1, max_source_length=64, max_target_length=64)
    model.compile(keras.optimizers.AdamW(1e-3), SmoothedSparseCrossentropy(0.1))
    count = lambda batch: int(np.sum(batch[2].numpy()))  # sample weights: real target tokens
    return model, dataset, count


def peer_setup(pairs):
    english, spanish = peer.build_tokenizers(pairs)
    dataset = peer.make_dataset(pairs, english, spanish).repeat()
    model = peer.build_model()
    pad = spanish.token_to_id("[PAD]")
    count = lambda batch: int(np.sum(batch[1].numpy() != pad))
    return model, dataset, count


def tokens_per_second(model, dataset, count, steps):
    model.fit(dataset.take(WARMUP_STEPS), epochs=1, verbose=0)  # traces the train step
    timed = dataset.skip(WARMUP_STEPS).take(steps).cache()
    tokens = sum(count(batch) for batch in timed)  # fills the cache: no tokenizing in the timing
    started = time.perf_counter()
    model.fit(timed, epochs=1, verbose=0)
    return tokens / (time.perf_counter() - started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="spa-eng", help="A TSV file, or a public corpus name (`kseq data`): its train split.")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tokens-per-batch", type=int, default=2048)
    args = parser.parse_args(argv)

    data = resolve_data(args.data)
    pairs = read_tsv(os.path.join(data, "train.tsv") if os.path.isdir(data) else data)
    systems = {"kseq": kseq_setup(pairs, args.tokens_per_batch), "keras.io peer": peer_setup(pairs)}
    for name, (model, _, _) in systems.items():
        print(f"{name}: {model.count_params():,} parameters", flush=True)
    results = {name: [] for name in systems}
    for round_ in range(args.rounds):
        for name, (model, dataset, count) in systems.items():
            results[name].append(tokens_per_second(model, dataset, count, args.steps))
            print(f"round {round_ + 1} {name}: {results[name][-1]:.0f} target tokens/s", flush=True)
    kseq_speed = statistics.median(results["kseq"])
    peer_speed = statistics.median(results["keras.io peer"])
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} CPUs. {args.steps} timed steps, "
          f"{args.rounds} alternating rounds, median.")
    print("| system | target tokens/s (non-padding) |\n| --- | ---: |")
    print(f"| kseq (tokens per batch {args.tokens_per_batch}, length buckets) | {kseq_speed:.0f} |")
    print(f"| keras.io KerasNLP recipe (batch 64, padded to 40) | {peer_speed:.0f} |")
    print(f"| ratio | {kseq_speed / peer_speed:.2f} x |")


if __name__ == "__main__":
    main()
