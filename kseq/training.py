"""`python train.py`: data -> tokenizer -> model -> fit -> evaluate -> export, on any Keras backend.

One pipeline for TensorFlow, JAX and machines without TensorFlow: the
SentencePiece vocabulary is learned and applied with the `sentencepiece`
package, batches are NumPy arrays in a few static shapes (`kseq.batching`),
evaluation decodes with `keras.ops`. Only the export needs TensorFlow: where
it is missing, the run directory is complete but for the exports, and the
command that adds them is printed.
"""

import argparse
import csv
import hashlib
import importlib
import json
import math
import os
import shutil
import sys
import tempfile
import time

import keras
import numpy as np

from kseq import device, distribution, presets
from kseq import run_directory as rd
from kseq.backends import load
from kseq.batching import (
    UNCOMPILED_BUCKETS, UNCOMPILED_LENGTH_MULTIPLE, LengthBatches, choose_bucket_lengths, pair_lengths,
)
from kseq.data import DataError, load_corpus, make_examples
from kseq.evaluation import evaluate
from kseq.model import dtype_policy
from kseq.plots import plot_training_curves
from kseq.recipe import build_model, compile_model
from kseq.tasks import TASKS
from kseq.time_budget import TimeBudget
from kseq.training_callbacks import Throughput, training_callbacks
from kseq.vocabulary import Vocabulary, learn_vocabulary

UNBOUNDED_EPOCHS = 10_000
# The flags that go with --resume: where the run is and what to do at the end, not how to train.
RESUME_FLAGS = ("--resume", "--out", "--no-export", "--compilation-cache", "--no-compilation-cache")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="train.py",
        description="Train a Transformer translator, evaluate it on the test split, export it.",
    )
    parser.add_argument(
        "--data", nargs="+", metavar="PATH",
        help="A TSV file (source<TAB>target), a directory with train.tsv [valid.tsv test.tsv], "
        "or two line-aligned text files (source, target). Default: the built-in "
        "English-Spanish numbers, dates and times corpus.",
    )
    parser.add_argument("--out", help="Run directory (default: runs/<date-time>).")
    parser.add_argument("--task", choices=sorted(TASKS), default="translation",
                        help="What the pairs teach; recorded so that pipelines and the server "
                        "name their outputs for it (default: translation).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true",
                        help="Continue the interrupted run in --out from its last epoch.")
    parser.add_argument("--no-export", action="store_true", help="Skip the export step.")
    parser.add_argument("--skip-bad-lines", action="store_true",
                        help="Skip and count malformed data lines instead of stopping.")
    parser.add_argument("--overlong", choices=("truncate", "drop"), default="truncate",
                        help="What to do with pairs longer than the maximum lengths.")
    parser.add_argument("--separate-vocabularies", action="store_true",
                        help="One SentencePiece vocabulary per side instead of a joint one.")
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument(
        "--distribute", choices=distribution.STRATEGIES, default="none",
        help="mirrored: train on every local GPU (or logical CPU device) at once; "
        "--tokens-per-batch is then the global batch, split across them. multi_worker: "
        "the same over the machines TF_CONFIG lists.",
    )
    parser.add_argument(
        "--mixed-precision", choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
        default="auto",
        help="Compute in 16 bits, keep the weights, logits and loss in float32 "
        "(mixed_float16 with loss scaling; mixed_bfloat16 for GPUs, TPUs and recent CPUs). "
        "auto: mixed_bfloat16 on a GPU or TPU, float32 on a CPU.",
    )
    parser.add_argument(
        "--compilation-cache", default=device.default_compilation_cache_dir(), metavar="DIR",
        help="JAX keeps compiled train and test steps here, so the next run of the same shapes "
        "compiles nothing (default: %(default)s).",
    )
    parser.add_argument("--no-compilation-cache", dest="compilation_cache", action="store_const",
                        const=None, help="Compile every step anew.")
    parser.add_argument(
        "--time-budget", type=float, metavar="MINUTES",
        help="Train for this many minutes, the learning rate decaying over them; "
        "--epochs stays an upper bound (default then: none).",
    )
    presets.add_arguments(parser)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.resume:
        # A resumed run keeps the settings it was started with: a flag that
        # would change them is refused, not silently ignored.
        changes = [a.split("=")[0] for a in argv if a.startswith("--") and a.split("=")[0] not in RESUME_FLAGS]
        if changes:
            parser.error(f"--resume continues the run in --out with its saved settings (config.json); "
                         f"{changes[0]} would change them: drop it, or start a new run with another --out.")
    if args.distribute == "multi_worker" and (args.time_budget is not None or args.resume):
        parser.error("--distribute multi_worker takes neither --time-budget nor --resume: "
                     "every worker must run the same steps (train for --epochs).")
    if args.time_budget is not None and not args.time_budget > 0:
        parser.error(f"--time-budget must be a positive number of minutes. Received: {args.time_budget}")
    return args


def settings_from_args(args):
    """The preset with command-line overrides and device defaults: a flat, JSON-ready dict."""
    settings = presets.from_arguments(args)
    kind = device.accelerator()
    backend = keras.backend.backend()
    if args.tokens_per_batch is None:
        settings["tokens_per_batch"] = device.default_tokens_per_batch(settings["tokens_per_batch"], kind)
    if args.jit_compile is None and backend == "jax":
        settings["jit_compile"] = True  # without it JAX runs op by op, many times slower
    mixed_precision = args.mixed_precision
    if mixed_precision == "auto":
        mixed_precision = device.default_mixed_precision(kind)
    settings.update(
        task=args.task, preset=args.preset, data=args.data, seed=args.seed, overlong=args.overlong,
        skip_bad_lines=args.skip_bad_lines, joint_vocabulary=not args.separate_vocabularies,
        eval_batch_size=args.eval_batch_size, time_budget_minutes=args.time_budget,
        distribute=args.distribute, backend=backend, device=kind,
        mixed_precision=None if mixed_precision == "float32" else mixed_precision,
    )
    if args.time_budget is not None and args.epochs is None:
        settings["epochs"] = UNBOUNDED_EPOCHS
    return settings


def best_validation_loss(history_file):
    """The lowest finite val_loss a run has logged (inf if none), so a resumed run keeps its best model."""
    if not os.path.isfile(history_file):
        return math.inf
    with open(history_file, newline="") as f:
        losses = [float(row["val_loss"]) for row in csv.DictReader(f) if row.get("val_loss")]
    return min((loss for loss in losses if math.isfinite(loss)), default=math.inf)


def build_vocabularies(train_pairs, settings):
    """Learns the SentencePiece vocabulary (or two) on the training pairs: (source, target)."""
    size = settings["vocabulary_size"]
    if settings["joint_vocabulary"]:
        vocabulary = Vocabulary(learn_vocabulary((text for pair in train_pairs for text in pair), size))
        return vocabulary, vocabulary
    return (Vocabulary(learn_vocabulary((source for source, _ in train_pairs), size)),
            Vocabulary(learn_vocabulary((target for _, target in train_pairs), size)))


def make_batches(train_examples, valid_examples, settings, row_multiple=1):
    """Training and validation batches in a few shapes shared by both.

    When the step compiles per shape (`jit_compile`, so every JAX run) or runs
    on an accelerator: at most 4 buckets, lengths and rows in multiples of 8.
    Otherwise (TensorFlow's graphs on a CPU take any shape) up to 12 finer
    buckets, which pad less.
    """
    lengths = np.concatenate([pair_lengths(e.source, e.target) for e in (train_examples, valid_examples)])
    compiled = settings["jit_compile"] or settings.get("device", "cpu") != "cpu"
    buckets = (choose_bucket_lengths(lengths) if compiled else
               choose_bucket_lengths(lengths, UNCOMPILED_BUCKETS, UNCOMPILED_LENGTH_MULTIPLE))
    options = dict(tokens_per_batch=settings["tokens_per_batch"], row_multiple=row_multiple,
                   row_tile=8 if compiled else 1, bucket_lengths=buckets)
    return (LengthBatches(train_examples.source, train_examples.target, shuffle=True,
                          seed=settings["seed"], **options),
            LengthBatches(valid_examples.source, valid_examples.target, **options))


def fit(model, train_data, valid_data, settings, callbacks):
    """`model.fit` over the batches for the settings' epochs."""
    model.fit(
        train_data,
        validation_data=valid_data,
        epochs=settings["epochs"],
        callbacks=callbacks,
        shuffle=False,  # the batches shuffle themselves, with the seed
        verbose=1 if sys.stdout.isatty() else 2,
    )


def tensorflow_available():
    """Whether TensorFlow and tensorflow-text import here (the exports need both)."""
    try:
        importlib.import_module("tensorflow")
        importlib.import_module("tensorflow_text")
    except ImportError:
        return False
    return True


def train(settings, run_dir, resume=False, export=True, callbacks=()):
    """Runs the whole job; returns the test metrics. `callbacks` join `fit()`'s own."""
    started = time.time()
    # First: MultiWorkerMirroredStrategy must exist before any other TensorFlow op.
    strategy = distribution.make_strategy(settings.get("distribute", "none"))
    chief = distribution.is_chief()
    keras.utils.set_random_seed(settings["seed"])

    # Data and tokenizer.
    corpus = load_corpus(settings["data"], skip_bad_lines=settings["skip_bad_lines"])
    print(f"Data: {len(corpus.train)} train, {len(corpus.valid)} valid, "
          f"{len(corpus.test)} test pairs; {len(corpus.skipped)} bad lines skipped.")
    files = rd.tokenizer_files(settings["joint_vocabulary"])
    if resume:
        source_vocabulary, target_vocabulary = rd.load_vocabularies(run_dir, rd.load_config(run_dir))
    else:
        source_vocabulary, target_vocabulary = build_vocabularies(corpus.train, settings)
        rd.save_vocabularies(run_dir, source_vocabulary, target_vocabulary, files)
    print(f"Tokenizer: {target_vocabulary.size} pieces"
          + ("" if settings["joint_vocabulary"] else f" (source {source_vocabulary.size})")
          # Workers each learn the vocabulary: the fingerprint shows they agree.
          + f", sha256 {hashlib.sha256(target_vocabulary.proto).hexdigest()[:12]}")

    lengths = (settings["max_source_length"], settings["max_target_length"], settings["overlong"])
    train_examples = make_examples(corpus.train, source_vocabulary, target_vocabulary, *lengths)
    valid_examples = make_examples(corpus.valid, source_vocabulary, target_vocabulary, *lengths)
    if train_examples.truncated or train_examples.dropped:
        print(f"Overlong training pairs: {train_examples.truncated} truncated, "
              f"{train_examples.dropped} dropped.")
    train_data, valid_data = make_batches(train_examples, valid_examples, settings,
                                          row_multiple=strategy.num_replicas_in_sync)
    workers = distribution.num_workers()
    steps_per_epoch, train_tokens = len(train_data), train_data.target_tokens
    print(f"Batches: {steps_per_epoch} per epoch in shapes (rows, positions) {train_data.shapes}.")
    if keras.backend.backend() == "tensorflow":
        train_data, valid_data = train_data.as_tf_dataset(), valid_data.as_tf_dataset()
        if workers > 1:
            train_data, valid_data = map(distribution.shard_batches, (train_data, valid_data))

    # Model, optimizer and metrics under the strategy: one replica per device.
    with strategy.scope(), dtype_policy(settings.get("mixed_precision") or "float32"):
        model = build_model(settings, target_vocabulary.size,
                            None if settings["joint_vocabulary"] else source_vocabulary.size)
        compile_model(model, settings, steps_per_epoch)
    if workers > 1:
        distribution.fit_across_workers(model)
    if strategy.num_replicas_in_sync > 1:
        print(f"Distributed ({settings['distribute']}): {strategy.num_replicas_in_sync} replicas "
              f"on {workers} worker{'s' * (workers > 1)}.")
    budget = (TimeBudget(settings["time_budget_minutes"], settings["learning_rate"], settings["warmup_steps"])
              if settings.get("time_budget_minutes") else None)
    print(f"Model: {model.count_params():,} parameters on {keras.backend.backend()} "
          f"({settings.get('device', 'cpu')}, {settings.get('mixed_precision') or 'float32'}).")
    rd.write_config(run_dir, settings, model, files, target_vocabulary.size)

    # Training.
    history_file = os.path.join(run_dir, rd.HISTORY_FILE)
    throughput = Throughput(train_tokens, steps_per_epoch)
    if resume and os.path.isfile(os.path.join(run_dir, rd.TRAINED_FILE)):
        print("Training had ended before the interruption: evaluating the saved model.")
    else:
        fit(model, train_data, valid_data, settings, training_callbacks(
            run_dir, throughput, resume, budget=budget, extra=callbacks,
            best_loss=best_validation_loss(history_file) if resume else math.inf))
    training_seconds = time.time() - started
    if not chief:
        print("Training done: the chief worker evaluates and writes the run directory.")
        return None
    if budget and budget.exhausted:
        print(f"Training stopped: the {settings['time_budget_minutes']:g}-minute budget is spent.")
    elif model.stop_training:  # StopOnNaN stopped it
        message = "Training stopped: the loss became NaN (try a lower --learning-rate)."
        if not os.path.isfile(os.path.join(run_dir, rd.MODEL_FILE)):
            raise SystemExit(f"{message} No epoch ended with a finite validation loss, so there "
                             "is no checkpoint to evaluate.")
        print(f"{message} Evaluating the last good checkpoint, {rd.MODEL_FILE}.")
    plot_training_curves(os.path.join(run_dir, rd.HISTORY_FILE), os.path.join(run_dir, rd.CURVES_FILE))

    # Evaluation of the best checkpoint.
    print(f"Evaluating on {len(corpus.test)} test pairs...")
    scores, samples = evaluate(load(run_dir, "keras"), corpus.test, settings["eval_batch_size"],
                               verbose=sys.stdout.isatty())
    metrics = {
        "keras": scores,
        "train_seconds": round(training_seconds, 1),
        "target_tokens_per_second": throughput.best,
        "skipped_lines": len(corpus.skipped),
        "overlong_pairs": {"truncated": train_examples.truncated,
                           "dropped": train_examples.dropped},
    }
    rd.write_json(os.path.join(run_dir, rd.METRICS_FILE), metrics)
    print(f"Test: BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f}, "
          f"exact match {scores['exact_match']:.1f} % ({scores['sentences']} sources).")
    for sample in samples[:: max(1, len(samples) // 5)][:5]:
        print(f"  {sample['source']}\n    -> {sample['translation']}\n    (ref: {sample['references'][0]})")

    if export and tensorflow_available():
        from export.export_run import export_run

        export_run(run_dir)
    elif export:
        print(f"TensorFlow is not installed here: export the run where it is, with "
              f"`python -m export {run_dir}`.")
    print(f"Run directory: {run_dir} ({time.time() - started:.0f} s in all)")
    return metrics


def main(argv=None):
    args = parse_args(argv)
    # Only the chief writes the run directory; other workers write theirs to a scratch one.
    chief = distribution.is_chief()
    run_dir = rd.prepare(args.out, args.resume) if chief else tempfile.mkdtemp(prefix="kseq-worker-")
    if args.compilation_cache:
        device.enable_compilation_cache(args.compilation_cache)
    try:
        settings = rd.load_config(run_dir)["settings"] if args.resume else settings_from_args(args)
        print(json.dumps(settings))
        train(settings, run_dir, resume=args.resume, export=not args.no_export)
    except (DataError, FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    finally:
        if not chief:
            shutil.rmtree(run_dir, ignore_errors=True)
