"""Where the first minutes of training go: tracing, XLA compilation per batch shape, steps.

    python bench/step_times.py [--data ../shared/data/spa-eng] [--steps 150] [--no-jit-compile] [--no-pad-to-bucket]

Trains the `small` preset on the corpus's training pairs for `--steps` steps
and times each one. A step whose batch shape is new to the run includes its
tracing (and, with XLA, its compilation); the others are plain steps. Prints
the first step, the new-shape steps, and the median of the others.
"""

import argparse
import os
import platform
import statistics
import sys
import time

import keras
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kseq.data import load_corpus, make_dataset, make_examples  # noqa: E402
from kseq.presets import PRESETS  # noqa: E402
from kseq.recipe import build_model, compile_model  # noqa: E402
from kseq.training import build_tokenizers  # noqa: E402


class StepTimes(keras.callbacks.Callback):
    """Seconds per step, and which steps met a batch shape for the first time."""

    def __init__(self, shapes, steps):
        super().__init__()
        self.shapes, self.steps = shapes, steps  # shapes: the batch shape of each step
        self.seconds, self.new_shape = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds.append(time.perf_counter() - self.started)
        self.new_shape.append(self.shapes[batch] not in self.shapes[:batch])
        if len(self.seconds) >= self.steps:
            self.model.stop_training = True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/spa-eng")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--pad-to-bucket", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    settings = dict(PRESETS["small"], joint_vocabulary=True, jit_compile=args.jit_compile)
    pairs = load_corpus([args.data]).train
    tokenizer, _ = build_tokenizers(pairs, settings)
    examples = make_examples(pairs, tokenizer, tokenizer, settings["max_source_length"],
                             settings["max_target_length"])
    dataset = make_dataset(examples, settings["tokens_per_batch"], shuffle=True, seed=0,
                           pad_to_bucket=args.pad_to_bucket).take(args.steps).cache()
    shapes = [tuple(inputs["encoder_inputs"].shape) + tuple(labels.shape)
              for inputs, labels, _ in dataset]
    model = build_model(settings, tokenizer.vocabulary_size())
    compile_model(model, settings, steps_per_epoch=len(shapes))
    times = StepTimes(shapes, args.steps)
    model.fit(dataset, epochs=1, callbacks=[times], verbose=0)

    first, *rest = zip(times.seconds, times.new_shape)
    new = [s for s, is_new in rest if is_new]
    plain = [s for s, is_new in rest if not is_new]
    print(f"\nMachine: {platform.machine()}, {os.cpu_count()} CPUs, TensorFlow {tf.__version__}; "
          f"XLA {'on' if args.jit_compile else 'off'}, batches padded to "
          f"{'their bucket' if args.pad_to_bucket else 'their longest pair'}.")
    print(f"{len(times.seconds)} steps, {len(set(shapes))} batch shapes, {sum(times.seconds):.0f} s in all.")
    print(f"first step: {first[0]:.1f} s")
    if new:
        print(f"{len(new)} later steps with a new shape: median {statistics.median(new):.1f} s, "
              f"{sum(new):.0f} s in all")
    print(f"{len(plain)} other steps: median {statistics.median(plain):.2f} s")


if __name__ == "__main__":
    main()
