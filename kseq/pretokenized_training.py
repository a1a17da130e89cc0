"""`python -m kseq.pretokenized_training DATA.npz --out RUN_DIR`: fit on token ids, on any Keras backend.

For machines without TensorFlow, such as a GPU box with JAX only
(`KERAS_BACKEND=jax`): `kseq pretokenize` writes DATA.npz where TensorFlow is,
this trains the same model with the same recipe on it and writes a run
directory (config, tokenizer, `model.keras`, history) that `python -m export
RUN_DIR` and `kseq evaluate RUN_DIR` take where TensorFlow is.
"""

import argparse
import os
import sys
import time

import keras

from kseq import presets, pretokenized
from kseq import run_directory as rd
from kseq.model import dtype_policy
from kseq.recipe import build_model, compile_model
from kseq.special_ids import PAD_ID


class Throughput(keras.callbacks.Callback):
    """Prints target tokens (non-padding) per second of each epoch."""

    def __init__(self, target):
        super().__init__()
        self.tokens = int((target != PAD_ID).sum()) + len(target)  # pieces and end ids

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self.started
        print(f"Epoch {epoch + 1}: {self.tokens / seconds:,.0f} target tokens/s ({seconds:.1f} s)", flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m kseq.pretokenized_training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", metavar="DATA.npz", help="Written by `kseq pretokenize`.")
    parser.add_argument("--out", help="Run directory (default: runs/<date-time>).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mixed-precision", choices=("mixed_float16", "mixed_bfloat16"))
    presets.add_arguments(parser)
    return parser.parse_args(argv)


def check_lengths(settings, splits, path):
    """The arrays must fit the model's position embeddings."""
    for split, (source, target) in splits.items():
        if source.shape[1] > settings["max_source_length"] or target.shape[1] + 1 > settings["max_target_length"]:
            raise SystemExit(
                f"{path}: the {split} pairs are up to {source.shape[1]} source and {target.shape[1] + 1} "
                f"target positions, more than --max-source-length {settings['max_source_length']} or "
                f"--max-target-length {settings['max_target_length']}: pretokenize with the same preset.")


def train(settings, run_dir):
    """Fits on settings["data"], keeping the model with the best validation loss; returns the history."""
    keras.utils.set_random_seed(settings["seed"])
    data = pretokenized.load(settings["data"])
    check_lengths(settings, data.splits, settings["data"])
    train_batches = pretokenized.LengthBatches(*data.splits["train"], settings["tokens_per_batch"],
                                               shuffle=True, seed=settings["seed"])
    valid = data.splits.get("valid")
    valid_batches = (pretokenized.LengthBatches(*valid, settings["tokens_per_batch"])
                     if valid is not None and len(valid[0]) else None)
    with dtype_policy(settings["mixed_precision"] or "float32"):
        model = build_model(settings, data.vocabulary_size)
        compile_model(model, settings, len(train_batches))
    print(f"Backend {keras.backend.backend()}: {model.count_params():,} parameters, "
          f"{len(train_batches)} steps per epoch.", flush=True)

    files = rd.tokenizer_files(joint_vocabulary=True)
    with open(os.path.join(run_dir, files["target"]), "wb") as f:
        f.write(data.tokenizer_model)
    rd.write_config(run_dir, settings, model, files, data.vocabulary_size)
    monitor = "val_loss" if valid_batches else "loss"
    return model.fit(
        train_batches,
        validation_data=valid_batches,
        epochs=settings["epochs"],
        callbacks=[
            keras.callbacks.TerminateOnNaN(),
            Throughput(data.splits["train"][1]),
            keras.callbacks.CSVLogger(os.path.join(run_dir, rd.HISTORY_FILE)),
            keras.callbacks.ModelCheckpoint(os.path.join(run_dir, rd.MODEL_FILE), monitor=monitor,
                                            save_best_only=True),
        ],
        verbose=1 if sys.stdout.isatty() else 2,
    )


def main(argv=None):
    args = parse_args(argv)
    settings = dict(presets.from_arguments(args), preset=args.preset, data=args.data, seed=args.seed,
                    joint_vocabulary=True, mixed_precision=args.mixed_precision,
                    backend=keras.backend.backend())
    if args.jit_compile is None and settings["backend"] == "jax":
        settings["jit_compile"] = True  # without it JAX runs op by op, many times slower
    run_dir = rd.prepare(args.out)
    try:
        train(settings, run_dir)
    except (OSError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    print(f"Run directory: {run_dir}. Export it where TensorFlow is: python -m export {run_dir}")


if __name__ == "__main__":
    main()
