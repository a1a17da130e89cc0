"""TensorFlow's CPU allocator: malloc against its BFC pool, side by side, on the `small` preset.

    python bench/cpu_allocator.py [--data spa-eng] [--steps 15] [--rounds 2]

Each round runs two fresh processes, one per allocator (`TF_CPU_ALLOCATOR_USE_BFC`
false, then true: TensorFlow reads it once, at its first allocation). Each
process trains today's `small` preset (float32, no XLA) on the spa-eng batches
and reports seconds per step (the median of 3 runs of `--steps` steps, after a
warm-up that includes tracing), greedy decoding ms/token on 256 test sources
(batch 64) and its peak resident memory. The medians over the rounds, and the
ratios, close the report.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kseq.public_corpora import resolve_data  # noqa: E402  (after the path above)

ALLOCATORS = {"malloc": "false", "bfc": "true"}


def measure(data, steps):
    """One process's figures: seconds per training step, decoding ms/token, peak RSS."""
    import keras

    from kseq.backends import KerasTranslator
    from kseq.batch_translation import translate_batches
    from kseq.data import load_corpus, make_examples
    from kseq.evaluation import group_references
    from kseq.recipe import build_model, compile_model
    from kseq.special_ids import PAD_ID
    from kseq.training import build_vocabularies, make_batches
    from kseq.training_config import TrainingConfig

    config = TrainingConfig.from_preset("small")
    keras.utils.set_random_seed(0)
    corpus = load_corpus(data)
    vocabulary, _ = build_vocabularies(corpus.train, config)
    examples = make_examples(corpus.train, vocabulary, vocabulary, 64, 64, "truncate")
    batches, _ = make_batches(examples, examples, config)
    model = build_model(config, vocabulary.size)
    compile_model(model, config, len(batches))
    train_data = batches.as_tf_dataset().repeat()
    model.fit(train_data.take(20), epochs=1, verbose=0)  # traces the step, leaves the warmup
    step_seconds = []
    for _ in range(3):
        started = time.perf_counter()
        model.fit(train_data.take(steps), epochs=1, verbose=0)
        step_seconds.append((time.perf_counter() - started) / steps)

    sources, _ = group_references(corpus.test)
    translator = KerasTranslator(model, vocabulary, vocabulary)
    translator.translate(sources[:64])  # traces the decoder
    started = time.perf_counter()
    _, ids = translate_batches(translator, sources[:256], batch_size=64)
    decode_seconds = time.perf_counter() - started
    return {"seconds_per_step": round(statistics.median(step_seconds), 3),
            "decode_ms_per_token": round(1000 * decode_seconds / int((ids != PAD_ID).sum()), 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def cpu_name():
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.partition(":")[2].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def run_child(allocator, args):
    env = dict(os.environ, TF_CPU_ALLOCATOR_USE_BFC=ALLOCATORS[allocator], TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, __file__, "--child", "--data", args.data, "--steps", str(args.steps)]
    output = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="spa-eng", help="A corpus directory, or a public corpus name (`kseq data`).")
    parser.add_argument("--steps", type=int, default=15, help="Timed steps per run (3 runs a process).")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.data = resolve_data(args.data)
    if args.child:
        print(json.dumps(measure(args.data, args.steps)))
        return

    results = {name: [] for name in ALLOCATORS}
    for round_index in range(args.rounds):
        for name in ALLOCATORS:
            results[name].append(run_child(name, args))
            print(f"round {round_index + 1}, {name}: {results[name][-1]}", flush=True)
    medians = {name: {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}
               for name, runs in results.items()}
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} CPUs, {cpu_name()}; "
          f"{args.rounds} rounds, median.")
    print("| allocator | s/step (train) | decode ms/token | peak RSS MB |")
    print("| --- | ---: | ---: | ---: |")
    for name, figures in medians.items():
        print(f"| {name} | {figures['seconds_per_step']} | {figures['decode_ms_per_token']} "
              f"| {figures['peak_rss_mb']:.0f} |")
    malloc, bfc = medians["malloc"], medians["bfc"]
    print(f"BFC against malloc: training {malloc['seconds_per_step'] / bfc['seconds_per_step']:.2f} × as fast, "
          f"decoding {malloc['decode_ms_per_token'] / bfc['decode_ms_per_token']:.2f} × as fast, "
          f"peak memory {bfc['peak_rss_mb'] / malloc['peak_rss_mb']:.2f} ×.")


if __name__ == "__main__":
    main()
