"""The training job: data -> tokenizer -> model -> fit -> evaluate, on any Keras backend.

One pipeline for TensorFlow, JAX and machines without TensorFlow: the
SentencePiece vocabulary is learned and applied with the `sentencepiece`
package, batches are NumPy arrays in a few static shapes (`kseq.batching`),
evaluation decodes with `keras.ops`. `kseq train` (`kseq.commands.train`)
turns flags into settings, runs this job, then exports.
"""

import contextlib
import csv
import hashlib
import importlib
import os
import sys
import time

import keras
import numpy as np

from kseq import distribution
from kseq.atomic import atomic_file, is_write_failure, write_error
from kseq.backends import KerasBackend
from kseq.batching import (
    UNCOMPILED_BUCKETS,
    UNCOMPILED_LENGTH_MULTIPLE,
    LengthBatches,
    choose_bucket_lengths,
    pair_lengths,
)
from kseq.checkpoint import resume_from_backup
from kseq.data import load_corpus, make_examples
from kseq.errors import TrainingError
from kseq.evaluation import evaluate
from kseq.plots import plot_training_curves
from kseq.precompile import precompile_steps
from kseq.model import with_dtype_policy
from kseq.recipe import build_model, compile_model
from kseq.run_directory import RunDirectory
from kseq.time_budget import TimeBudget
from kseq.training_callbacks import Throughput, ValidationBleu, is_better, training_callbacks
from kseq.vocabulary import Vocabulary, learn_vocabulary


def best_logged_epoch(history_file, monitor="val_loss"):
    """The logs of the best epoch history.csv holds by `monitor` (`is_better`), or None,
    so that a resumed run keeps its best model."""
    if not os.path.isfile(history_file):
        return None
    best = None
    with open(history_file, newline="") as f:
        for row in csv.DictReader(f):
            logs = {key: float(value) for key, value in row.items() if key in ("val_loss", "val_bleu") and value}
            if is_better(logs, best, monitor):
                best = logs
    return best


def drop_history_after(history_file, epochs):
    """Keeps the rows of the first `epochs` epochs in history.csv, those the backup holds:
    a resumed run trains the later ones again (an epoch whose checkpoint failed, say)."""
    if not os.path.isfile(history_file):
        return
    with open(history_file, newline="") as f:
        rows = list(csv.reader(f))
    kept = rows[:1] + [row for row in rows[1:] if row and row[0].isdigit() and int(row[0]) < epochs]
    if kept != rows:
        with atomic_file(history_file) as temporary, open(temporary, "w", newline="") as f:
            csv.writer(f).writerows(kept)


@contextlib.contextmanager
def writing(run):
    """Ends a write into the run directory that fails (a full disk, say) in one line.

    The `kseq.errors.WriteError` names the directory, its free space and how
    to go on. Every file is written whole or not at all (`atomic_file`), so
    the files written before stay as they were.
    """
    try:
        yield
    except Exception as error:
        if not is_write_failure(error):
            raise
        if os.path.isfile(run.config_path):
            advice = (f"Free some space and run `kseq train --resume --out {run.path}`: it continues from "
                      "the last good epoch; the files written before are kept.")
        else:
            advice = f"Nothing was trained yet: free some space, empty {run.path} and train again."
        raise write_error(error, run.path, advice) from None


def build_vocabularies(train_pairs, settings):
    """Learns the SentencePiece vocabulary (or two) on the training pairs: (source, target)."""
    size = settings["vocabulary_size"]
    if settings["joint_vocabulary"]:
        vocabulary = Vocabulary(learn_vocabulary((text for pair in train_pairs for text in pair), size))
        return vocabulary, vocabulary
    return (Vocabulary(learn_vocabulary((source for source, _ in train_pairs), size)),
            Vocabulary(learn_vocabulary((target for _, target in train_pairs), size)))


def make_batches(train_examples, valid_examples, settings, row_multiple=1, resegment=None):
    """Training and validation batches in a few shapes shared by both.

    `resegment` (subword regularization) gives the training pairs new
    segmentations every epoch (`LengthBatches`).

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
                   row_tile=8 if compiled else 1, bucket_lengths=buckets,
                   max_source_length=settings["max_source_length"], max_target_length=settings["max_target_length"])
    return (LengthBatches(train_examples.source, train_examples.target, shuffle=True,
                          seed=settings["seed"], resegment=resegment, **options),
            LengthBatches(valid_examples.source, valid_examples.target, **options))


def subword_sampling(pairs, examples, settings, source_vocabulary, target_vocabulary):
    """With `settings["subword_alpha"]` > 0: a function that segments the kept
    training pairs anew, sampling (subword regularization); else None."""
    alpha = settings.get("subword_alpha", 0.0)
    if not alpha:
        return None
    # Not seeded: after `sentencepiece.set_random_generator_seed` every call draws the same
    # samples again (each call's threads start from the seed), so every epoch would be the same.
    kept = [pairs[i] for i in examples.kept]
    lengths = settings["max_source_length"], settings["max_target_length"]

    def resegment():
        sampled = make_examples(kept, source_vocabulary, target_vocabulary, *lengths, sampling_alpha=alpha)
        return sampled.source, sampled.target

    return resegment


def fit(model, train_data, valid_data, settings, callbacks, initial_epoch=0):
    """`model.fit` over the batches for the settings' epochs."""
    model.fit(
        train_data,
        validation_data=valid_data,
        epochs=settings["epochs"],
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        shuffle=False,  # the batches shuffle themselves, with the seed
        verbose=1 if sys.stdout.isatty() else 2,
    )


def initial_model(init_dir, settings):
    """The model of the run directory `init_dir` (an imported or trained one), to fine-tune,
    computing in `settings["mixed_precision"]` (None: float32)."""
    model = RunDirectory(init_dir).load_model()
    policy = settings.get("mixed_precision")
    return with_dtype_policy(model, policy) if policy and policy != "float32" else model


def tensorflow_available():
    """Whether TensorFlow and tensorflow-text import here (the exports need both)."""
    try:
        importlib.import_module("tensorflow")
        importlib.import_module("tensorflow_text")
    except ImportError:
        return False
    return True


def train(settings, run, resume=False, callbacks=()):
    """Trains, evaluates and writes the run directory (a `RunDirectory`); returns the test metrics.

    `callbacks` join `fit()`'s own. On workers other than the chief it returns None.
    """
    started = time.time()
    # First: MultiWorkerMirroredStrategy must exist before any other TensorFlow op.
    strategy = distribution.make_strategy(settings.get("distribute", "none"))
    chief = distribution.is_chief()
    keras.utils.set_random_seed(settings["seed"])

    # Data and tokenizer.
    corpus = load_corpus(settings["data"], skip_bad_lines=settings["skip_bad_lines"])
    print(f"Data: {len(corpus.train)} train, {len(corpus.valid)} valid, "
          f"{len(corpus.test)} test pairs; {len(corpus.skipped)} bad lines skipped.")
    if resume:
        source_vocabulary, target_vocabulary = run.vocabularies()
    else:
        # Fine-tuning keeps the vocabularies of the model it starts from.
        source_vocabulary, target_vocabulary = (RunDirectory(settings["init"]).vocabularies() if settings.get("init")
                                                else build_vocabularies(corpus.train, settings))
        with writing(run):
            run.save_vocabularies(source_vocabulary, target_vocabulary, settings["joint_vocabulary"])
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
                                          row_multiple=strategy.num_replicas_in_sync,
                                          resegment=subword_sampling(corpus.train, train_examples, settings,
                                                                     source_vocabulary, target_vocabulary))
    workers = distribution.num_workers()
    steps_per_epoch, train_tokens = len(train_data), train_data.target_tokens
    print(f"Batches: {steps_per_epoch} per epoch in shapes (rows, positions) {train_data.shapes}.")
    if train_data.resegment:
        print(f"Subword sampling (alpha {settings['subword_alpha']:g}): {100 * train_data.resegmented:.0f} % "
              "of the training pairs fit their batch in the sampled segmentation, the rest keep the best.")
    if keras.backend.backend() == "tensorflow":
        train_data, valid_data = train_data.as_tf_dataset(), valid_data.as_tf_dataset()
        if workers > 1:
            train_data, valid_data = map(distribution.shard_batches, (train_data, valid_data))

    # Model, optimizer and metrics under the strategy: one replica per device.
    with strategy.scope():
        model = (initial_model(settings["init"], settings) if settings.get("init") else
                 build_model(settings, target_vocabulary.size,
                             None if settings["joint_vocabulary"] else source_vocabulary.size))
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
    with writing(run):
        run.write_config(settings, model, target_vocabulary.size)

    # Training.
    throughput = Throughput(train_tokens, steps_per_epoch)
    if resume and run.trained:
        print("Training had ended before the interruption: evaluating the saved model.")
    else:
        initial_epoch = resume_from_backup(model, run.backup_dir) if resume else 0
        if keras.backend.backend() == "jax" and settings["jit_compile"] and strategy.num_replicas_in_sync == 1:
            precompile_steps(model, train_data, valid_data)
        with writing(run):  # the checkpoints, backups, history and logs
            if resume:
                drop_history_after(run.history_path, initial_epoch)
            validation_bleu = (ValidationBleu(corpus.valid, source_vocabulary, target_vocabulary,
                                              settings["bleu_subset"], settings["eval_batch_size"])
                               if settings.get("bleu_subset") and corpus.valid else None)
            monitor = "val_bleu" if validation_bleu else "val_loss"
            print("Checkpoint: model.keras keeps the epoch with the "
                  + (f"best greedy BLEU on {len(validation_bleu.sources)} validation sources."
                     if validation_bleu else "lowest validation loss."))
            fit(model, train_data, valid_data, settings, training_callbacks(
                run, throughput, resume, budget=budget, extra=callbacks,
                best=best_logged_epoch(run.history_path, monitor) if resume else None,
                averaged=bool(settings.get("ema_momentum")), validation_bleu=validation_bleu,
                patience=settings.get("patience", 0)), initial_epoch)
            if validation_bleu:
                print(f"Validation BLEU: {validation_bleu.seconds:.0f} s of decoding in all.")
    training_seconds = time.time() - started
    if not chief:
        print("Training done: the chief worker evaluates and writes the run directory.")
        return None
    if budget and budget.exhausted:
        print(f"Training stopped: the {settings['time_budget_minutes']:g}-minute budget is spent.")
    elif model.stop_training:  # StopOnNaN stopped it
        message = "Training stopped: the loss became NaN (try a lower --learning-rate)."
        if not os.path.isfile(run.model_path):
            raise TrainingError(f"{message} No epoch ended with a finite validation loss, so there "
                                f"is no checkpoint ({run.model_path}) to evaluate.")
        print(f"{message} Evaluating the last good checkpoint, {run.model_path}.")
    with writing(run), atomic_file(run.curves_path) as temporary:
        plot_training_curves(run.history_path, temporary)

    # Evaluation of the best checkpoint.
    print(f"Evaluating on {len(corpus.test)} test pairs...")
    translator = KerasBackend(run.load_model(), source_vocabulary, target_vocabulary,
                              batch_size=settings["eval_batch_size"])
    scores, samples = evaluate(translator, corpus.test, settings["eval_batch_size"], verbose=sys.stdout.isatty())
    metrics = {
        "keras": scores,
        "train_seconds": round(training_seconds, 1),
        "target_tokens_per_second": throughput.best,
        "skipped_lines": len(corpus.skipped),
        "overlong_pairs": {"truncated": train_examples.truncated,
                           "dropped": train_examples.dropped},
    }
    with writing(run):
        run.write_metrics(metrics)
    print(f"Test: BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f}, "
          f"exact match {scores['exact_match']:.1f} % ({scores['sentences']} sources).")
    for sample in samples[:: max(1, len(samples) // 5)][:5]:
        print(f"  {sample['source']}\n    -> {sample['translation']}\n    (ref: {sample['references'][0]})")
    return metrics
