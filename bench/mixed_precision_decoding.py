"""How often decoding under mixed precision gives float32's tokens.

    python bench/mixed_precision_decoding.py RUN_DIR [--data TSV] [--limit 500]

Decodes the test sources greedily with the run's model in float32, then with
copies computing in float16 and bfloat16 (weights and logits in float32), and
prints the share of sources whose whole token sequence is identical.
"""

import argparse
import os
import platform

import numpy as np
import tensorflow as tf

from kseq.data import load_corpus, read_tsv
from kseq.decoding import greedy_decode
from kseq.evaluation import group_references
from kseq.model import with_dtype_policy
from kseq.run_directory import RunDirectory
from kseq.tf.translation_graph import TranslationGraph


def decode_all(model, source_ids, batch_size=64):
    decode = tf.function(lambda ids: greedy_decode(model, ids), reduce_retracing=True)
    return np.concatenate([decode(source_ids[i : i + batch_size]).numpy()
                           for i in range(0, len(source_ids), batch_size)])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--data", help="A TSV file (default: the run's test split).")
    parser.add_argument("--limit", type=int, default=500)
    args = parser.parse_args(argv)

    run = RunDirectory(args.run_dir)
    pairs = read_tsv(args.data) if args.data else load_corpus(run.settings.get("data")).test
    sources = group_references(pairs)[0][: args.limit]
    model = run.load_model()
    translator = TranslationGraph(model, *run.tokenizers())
    source_ids = translator.source_ids(tf.constant(sources))
    expected = decode_all(model, source_ids)
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; {len(sources)} sources.\n")
    print("| policy | identical token sequences |\n| --- | ---: |")
    for policy in ("mixed_float16", "mixed_bfloat16"):
        same = np.all(decode_all(with_dtype_policy(model, policy), source_ids) == expected, axis=1)
        print(f"| {policy} | {100 * same.mean():.1f} % |", flush=True)


if __name__ == "__main__":
    main()
