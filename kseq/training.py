"""`python train.py`: data -> tokenizer -> model -> fit -> evaluate -> export."""

import argparse
import csv
import datetime
import json
import math
import os
import sys
import time

import keras
import tensorflow as tf

from export.export_run import export_run
from kseq import run_directory as rd
from kseq.backends import load
from kseq.checkpoint import AtomicBackupAndRestore
from kseq.data import DataError, load_corpus, make_dataset, make_examples
from kseq.distribution import STRATEGIES, make_strategy
from kseq.evaluation import evaluate
from kseq.loss import SmoothedSparseCrossentropy
from kseq.model import Seq2SeqTransformer, dtype_policy
from kseq.plots import plot_training_curves
from kseq.presets import MODEL_KEYS, PRESETS
from kseq.time_budget import BudgetedCosineDecay, TimeBudget
from kseq.tokenizer import Tokenizer

UNBOUNDED_EPOCHS = 10_000


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
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    parser.add_argument("--out", help="Run directory (default: runs/<date-time>).")
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
        "--distribute", choices=STRATEGIES, default="none",
        help="mirrored: train on every local GPU (or logical CPU device) at once; "
        "--tokens-per-batch is then the global batch, split across them.",
    )
    parser.add_argument(
        "--mixed-precision", choices=("mixed_float16", "mixed_bfloat16"),
        help="Compute in 16 bits, keep the weights, logits and loss in float32 "
        "(mixed_float16 with loss scaling, for GPUs; mixed_bfloat16 for recent CPUs and TPUs).",
    )
    parser.add_argument(
        "--time-budget", type=float, metavar="MINUTES",
        help="Train for this many minutes, the learning rate decaying over them; "
        "--epochs stays an upper bound (default then: none).",
    )
    overrides = parser.add_argument_group("overrides of the preset")
    for key, value in PRESETS["small"].items():
        flag = f"--{key.replace('_', '-')}"
        if isinstance(value, bool):
            overrides.add_argument(flag, action=argparse.BooleanOptionalAction)
        else:
            overrides.add_argument(flag, type=type(value), metavar="N")
    args = parser.parse_args(argv)
    if args.time_budget is not None and not args.time_budget > 0:
        parser.error(f"--time-budget must be a positive number of minutes. Received: {args.time_budget}")
    return args


def settings_from_args(args):
    """The preset with command-line overrides: a flat, JSON-ready dict."""
    settings = dict(PRESETS[args.preset])
    settings.update({k: getattr(args, k) for k in settings if getattr(args, k) is not None})
    settings.update(
        preset=args.preset, data=args.data, seed=args.seed, overlong=args.overlong,
        skip_bad_lines=args.skip_bad_lines, joint_vocabulary=not args.separate_vocabularies,
        eval_batch_size=args.eval_batch_size, time_budget_minutes=args.time_budget,
        distribute=args.distribute, mixed_precision=args.mixed_precision,
    )
    if args.time_budget is not None and args.epochs is None:
        settings["epochs"] = UNBOUNDED_EPOCHS
    return settings


def prepare_run_directory(out, resume):
    """Creates the run directory, refusing to overwrite a finished or foreign one."""
    out = out or os.path.join("runs", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    if resume:
        if not os.path.isfile(os.path.join(out, rd.CONFIG_FILE)):
            raise SystemExit(f"--resume: {out} holds no run to resume (no {rd.CONFIG_FILE}).")
        if os.path.isfile(os.path.join(out, rd.METRICS_FILE)):
            raise SystemExit(f"--resume: the run in {out} has finished ({rd.METRICS_FILE} is there).")
        return out
    if os.path.isdir(out) and os.listdir(out):
        raise SystemExit(f"{out} already exists and is not empty: pass --resume to continue "
                         "that run, or choose another --out.")
    try:
        os.makedirs(out, exist_ok=True)
        probe = os.path.join(out, ".write-test")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as error:
        raise SystemExit(f"Cannot write to --out {out}: {error.strerror}") from None
    return out


def with_cardinality(dataset):
    """Counts a dataset's batches once and records the count, for Keras' progress bar.

    Each length bucket yields ceil(pairs / batch size) batches whatever the
    shuffle, so the count holds for every epoch.
    """
    count = sum(1 for _ in dataset)
    return dataset.apply(tf.data.experimental.assert_cardinality(count)), count


def best_validation_loss(history_file):
    """The lowest finite val_loss a run has logged (inf if none), so a resumed run keeps its best model."""
    if not os.path.isfile(history_file):
        return math.inf
    with open(history_file, newline="") as f:
        losses = [float(row["val_loss"]) for row in csv.DictReader(f) if row.get("val_loss")]
    return min((loss for loss in losses if math.isfinite(loss)), default=math.inf)


def build_tokenizers(train_pairs, settings):
    """Adapts the SentencePiece vocabulary (or two) on the training pairs."""
    options = dict(max_vocabulary_size=settings["vocabulary_size"])
    if settings["joint_vocabulary"]:
        tokenizer = Tokenizer(name="tokenizer", **options)
        tokenizer.adapt(text for pair in train_pairs for text in pair)
        return tokenizer, tokenizer
    source = Tokenizer(name="source_tokenizer", **options)
    source.adapt(source for source, _ in train_pairs)
    target = Tokenizer(name="target_tokenizer", **options)
    target.adapt(target for _, target in train_pairs)
    return source, target


def build_model(settings, source_tokenizer, target_tokenizer):
    joint = settings["joint_vocabulary"]
    return Seq2SeqTransformer(
        vocabulary_size=target_tokenizer.vocabulary_size(),
        source_vocabulary_size=None if joint else source_tokenizer.vocabulary_size(),
        tie_embeddings=True,
        **{key: settings[key] for key in MODEL_KEYS},
    )


def compile_model(model, settings, steps_per_epoch):
    """AdamW with warmup then cosine decay, over the epochs or the time budget.

    `settings["ema_momentum"]`, when set, averages the weights (see the optimizer).

    Returns the learning rate schedule.
    """
    if settings.get("time_budget_minutes"):
        schedule = BudgetedCosineDecay(settings["learning_rate"], settings["warmup_steps"])
    else:
        total_steps = max(1, settings["epochs"] * steps_per_epoch)
        warmup_steps = min(settings["warmup_steps"], total_steps // 2)
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0,
            warmup_target=settings["learning_rate"],
            warmup_steps=warmup_steps,
            decay_steps=max(1, total_steps - warmup_steps),
            alpha=0.1,
        )
    ema_momentum = settings.get("ema_momentum")
    model.compile(
        optimizer=keras.optimizers.AdamW(
            schedule, weight_decay=settings["weight_decay"], beta_2=0.98, clipnorm=1.0,
            # An exponential moving average of the weights replaces them when
            # fit() ends: checkpoint averaging without the checkpoints.
            use_ema=bool(ema_momentum), ema_momentum=ema_momentum or 0.99,
        ),
        loss=SmoothedSparseCrossentropy(settings["label_smoothing"]),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        # XLA fuses the step's kernels (about 15 % faster on a 2-core CPU once
        # compiled, one compilation per batch shape); tokenizing stays in tf.data.
        jit_compile=settings.get("jit_compile", False),
    )
    return schedule


def train(settings, run_dir, resume=False, export=True):
    """Runs the whole job; returns the test metrics."""
    started = time.time()
    keras.utils.set_random_seed(settings["seed"])

    # Data and tokenizer.
    corpus = load_corpus(settings["data"], skip_bad_lines=settings["skip_bad_lines"])
    print(f"Data: {len(corpus.train)} train, {len(corpus.valid)} valid, "
          f"{len(corpus.test)} test pairs; {len(corpus.skipped)} bad lines skipped.")
    files = rd.tokenizer_files(settings["joint_vocabulary"])
    if resume:
        source_tokenizer, target_tokenizer = rd.load_tokenizers(run_dir, rd.load_config(run_dir))
    else:
        source_tokenizer, target_tokenizer = build_tokenizers(corpus.train, settings)
        rd.save_tokenizers(run_dir, source_tokenizer, target_tokenizer, files)
    print(f"Tokenizer: {target_tokenizer.vocabulary_size()} pieces"
          + ("" if settings["joint_vocabulary"] else f" (source {source_tokenizer.vocabulary_size()})"))

    lengths = (settings["max_source_length"], settings["max_target_length"], settings["overlong"])
    train_examples = make_examples(corpus.train, source_tokenizer, target_tokenizer, *lengths)
    valid_examples = make_examples(corpus.valid, source_tokenizer, target_tokenizer, *lengths)
    if train_examples.truncated or train_examples.dropped:
        print(f"Overlong training pairs: {train_examples.truncated} truncated, "
              f"{train_examples.dropped} dropped.")
    train_data = make_dataset(train_examples, settings["tokens_per_batch"], shuffle=True,
                              seed=settings["seed"])
    valid_data = make_dataset(valid_examples, settings["tokens_per_batch"])
    train_data, steps_per_epoch = with_cardinality(train_data)
    valid_data, _ = with_cardinality(valid_data)

    # Model, optimizer and metrics under the strategy: one replica per device.
    strategy = make_strategy(settings.get("distribute", "none"))
    with strategy.scope(), dtype_policy(settings.get("mixed_precision") or "float32"):
        model = build_model(settings, source_tokenizer, target_tokenizer)
        schedule = compile_model(model, settings, steps_per_epoch)
    if strategy.num_replicas_in_sync > 1:
        print(f"Distributed: {strategy.num_replicas_in_sync} replicas ({type(strategy).__name__}).")
    budget = (TimeBudget(settings["time_budget_minutes"], schedule)
              if settings.get("time_budget_minutes") else None)
    print(f"Model: {model.count_params():,} parameters, {steps_per_epoch} steps per epoch.")
    rd.write_config(run_dir, settings, model, files, target_tokenizer.vocabulary_size())

    # Training.
    history_file = os.path.join(run_dir, rd.HISTORY_FILE)
    model.fit(
        train_data,
        validation_data=valid_data,
        epochs=settings["epochs"],
        callbacks=[
            keras.callbacks.TerminateOnNaN(),
            *([budget] if budget else []),
            keras.callbacks.CSVLogger(history_file, append=resume),
            keras.callbacks.TensorBoard(os.path.join(run_dir, rd.LOGS_DIR)),
            keras.callbacks.ModelCheckpoint(
                os.path.join(run_dir, rd.MODEL_FILE), monitor="val_loss", save_best_only=True,
                # Keras saves the first epoch whatever its loss; a threshold
                # keeps a NaN epoch from overwriting a good model.
                initial_value_threshold=best_validation_loss(history_file) if resume else math.inf,
            ),
            # Last, so an epoch is only marked done once the others have logged it.
            AtomicBackupAndRestore(os.path.join(run_dir, rd.BACKUP_DIR)),
        ],
        shuffle=False,  # the dataset shuffles itself, with the seed
        verbose=1 if sys.stdout.isatty() else 2,
    )
    training_seconds = time.time() - started
    if budget and budget.exhausted:
        print(f"Training stopped: the {settings['time_budget_minutes']:g}-minute budget is spent.")
    elif model.stop_training:  # TerminateOnNaN stopped it
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
        "skipped_lines": len(corpus.skipped),
        "overlong_pairs": {"truncated": train_examples.truncated,
                           "dropped": train_examples.dropped},
    }
    rd.write_json(os.path.join(run_dir, rd.METRICS_FILE), metrics)
    print(f"Test: BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f}, "
          f"exact match {scores['exact_match']:.1f} % ({scores['sentences']} sources).")
    for sample in samples[:: max(1, len(samples) // 5)][:5]:
        print(f"  {sample['source']}\n    -> {sample['translation']}\n    (ref: {sample['references'][0]})")

    if export:
        export_run(run_dir)
    print(f"Run directory: {run_dir} ({time.time() - started:.0f} s in all)")
    return metrics


def main(argv=None):
    args = parse_args(argv)
    run_dir = prepare_run_directory(args.out, args.resume)
    try:
        settings = rd.load_config(run_dir)["settings"] if args.resume else settings_from_args(args)
        print(json.dumps(settings))
        train(settings, run_dir, resume=args.resume, export=not args.no_export)
    except (DataError, FileNotFoundError) as error:
        raise SystemExit(f"error: {error}") from None
