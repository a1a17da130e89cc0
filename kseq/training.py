"""The training job: data -> vocabulary -> batches -> model -> fit -> evaluate, on any Keras backend.

`train(config, run)` runs the phases of a `TrainingJob` in that order, each a
method. One pipeline for TensorFlow, JAX and machines without TensorFlow: the
SentencePiece vocabulary is learned and applied with the `sentencepiece`
package, batches are NumPy arrays in a few static shapes (`kseq.batching`),
evaluation decodes with `keras.ops`. `kseq train` (`kseq.commands.train`)
turns flags into a `kseq.training_config.TrainingConfig`, runs this job, then exports.
"""

import contextlib
import csv
import hashlib
import os
import sys
import time

import keras
import numpy as np

from kseq import distribution
from kseq.atomic import atomic_file, is_write_failure, write_error
from kseq.backends import KerasTranslator
from kseq.batching import (
    UNCOMPILED_BUCKETS,
    UNCOMPILED_LENGTH_MULTIPLE,
    LengthBatches,
    choose_bucket_lengths,
    pair_lengths,
)
from kseq.checkpoint import resume_from_backup
from kseq.data import load_corpus, make_examples
from kseq.errors import TrainingError, UsageError
from kseq.evaluation import evaluate
from kseq.plots import plot_training_curves
from kseq.precompile import precompile_steps
from kseq.model import with_dtype_policy
from kseq.recipe import build_model, compile_model
from kseq.run_directory import RunDirectory
from kseq.time_budget import TimeBudget
from kseq.training_config import TrainingConfig
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


def build_vocabularies(train_pairs, config):
    """Learns the SentencePiece vocabulary (or two) on the training pairs: (source, target)."""
    size = config.vocabulary_size
    if config.joint_vocabulary:
        vocabulary = Vocabulary(learn_vocabulary((text for pair in train_pairs for text in pair), size))
        return vocabulary, vocabulary
    return (Vocabulary(learn_vocabulary((source for source, _ in train_pairs), size)),
            Vocabulary(learn_vocabulary((target for _, target in train_pairs), size)))


def make_batches(train_examples, valid_examples, config, row_multiple=1, resegment=None):
    """Training and validation batches in a few shapes shared by both.

    `resegment` (subword regularization) gives the training pairs new
    segmentations every epoch (`LengthBatches`).

    When the step compiles per shape (`jit_compile`, so every JAX run) or runs
    on an accelerator: at most 4 buckets, lengths and rows in multiples of 8.
    Otherwise (TensorFlow's graphs on a CPU take any shape) up to 12 finer
    buckets, which pad less.
    """
    lengths = np.concatenate([pair_lengths(e.source, e.target) for e in (train_examples, valid_examples)])
    compiled = config.jit_compile or config.device != "cpu"
    buckets = (choose_bucket_lengths(lengths) if compiled else
               choose_bucket_lengths(lengths, UNCOMPILED_BUCKETS, UNCOMPILED_LENGTH_MULTIPLE))
    options = dict(tokens_per_batch=config.tokens_per_batch, row_multiple=row_multiple,
                   row_tile=8 if compiled else 1, bucket_lengths=buckets,
                   max_source_length=config.max_source_length, max_target_length=config.max_target_length)
    return (LengthBatches(train_examples.source, train_examples.target, shuffle=True,
                          seed=config.seed, resegment=resegment, **options),
            LengthBatches(valid_examples.source, valid_examples.target, **options))


def subword_sampling(pairs, examples, config, source_vocabulary, target_vocabulary):
    """With `config.subword_alpha` > 0: a function that segments the kept
    training pairs anew, sampling (subword regularization); else None."""
    alpha = config.subword_alpha
    if not alpha:
        return None
    # Not seeded: after `sentencepiece.set_random_generator_seed` every call draws the same
    # samples again (each call's threads start from the seed), so every epoch would be the same.
    kept = [pairs[i] for i in examples.kept]
    lengths = config.max_source_length, config.max_target_length

    def resegment():
        sampled = make_examples(kept, source_vocabulary, target_vocabulary, *lengths, sampling_alpha=alpha)
        return sampled.source, sampled.target

    return resegment


def fit(model, train_data, valid_data, config, callbacks, initial_epoch=0):
    """`model.fit` over the batches for the config's epochs."""
    model.fit(
        train_data,
        validation_data=valid_data,
        epochs=config.epochs,
        initial_epoch=initial_epoch,
        callbacks=callbacks,
        shuffle=False,  # the batches shuffle themselves, with the seed
        verbose=1 if sys.stdout.isatty() else 2,
    )


def initial_model(init_dir, config):
    """The model of the run directory `init_dir` (an imported or trained one), to fine-tune,
    computing in `config.mixed_precision` (None: float32)."""
    model = RunDirectory(init_dir).load_model()
    policy = config.mixed_precision
    return with_dtype_policy(model, policy) if policy and policy != "float32" else model


def train(config, run, resume=False, callbacks=(), log=print, budget=None):
    """Trains, evaluates and writes the run directory (a `RunDirectory`); returns the test metrics.

    Args:
        config: the `kseq.training_config.TrainingConfig`.
        run: the `RunDirectory` (created, or with `resume` the interrupted run's).
        resume: continue the interrupted run from its last epoch.
        callbacks: Keras callbacks that join `fit()`'s own.
        log: where the progress lines go (`print`).
        budget: a `kseq.time_budget.TimeBudget` (or subclass) instead of the
            one `config.time_budget_minutes` makes; needs that field set.

    On workers other than the chief it returns None.
    """
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"`config` must be a kseq.TrainingConfig (`TrainingConfig.from_preset(...)`, or "
                        f"`TrainingConfig.from_dict(...)` for a dict of settings). Received: {type(config).__name__}")
    if budget is not None and config.time_budget_minutes is None:
        raise UsageError("A `budget` needs `config.time_budget_minutes` (the learning rate then follows the "
                         "time, not the steps): pass `time_budget_minutes=` to `TrainingConfig.from_preset`.")
    job = TrainingJob(config, run, resume, log)
    job.load_data()
    job.prepare_vocabularies()
    job.prepare_batches()
    job.prepare_model()
    job.fit(callbacks, budget)
    if not job.chief:
        log("Training done: the chief worker evaluates and writes the run directory.")
        return None
    job.report_the_end()
    return job.evaluate()


class TrainingJob:
    """One training run as it goes through the phases of `train`, and the state they share.

    Args:
        config: the `kseq.training_config.TrainingConfig`.
        run: the `RunDirectory`.
        resume: bool. Continue the interrupted run in `run`.
        log: a `print`-like function for the progress lines.
    """

    def __init__(self, config, run, resume=False, log=print):
        self.config = config
        self.run = run
        self.resume = resume
        self.log = log
        self.started = time.time()
        # First: MultiWorkerMirroredStrategy must exist before any other TensorFlow op.
        self.strategy = distribution.make_strategy(config.distribute)
        self.chief = distribution.is_chief()
        keras.utils.set_random_seed(config.seed)

    def load_data(self):
        """Reads the corpus: train, valid and test pairs."""
        self.corpus = load_corpus(self.config.data, skip_bad_lines=self.config.skip_bad_lines)
        self.log(f"Data: {len(self.corpus.train)} train, {len(self.corpus.valid)} valid, "
                 f"{len(self.corpus.test)} test pairs; {len(self.corpus.skipped)} bad lines skipped.")

    def prepare_vocabularies(self):
        """Learns the vocabularies and saves them in the run directory; a resumed run reads its own,
        and fine-tuning keeps those of the model it starts from."""
        config, run = self.config, self.run
        if self.resume:
            vocabularies = run.vocabularies()
        else:
            vocabularies = (RunDirectory(config.init).vocabularies() if config.init
                            else build_vocabularies(self.corpus.train, config))
            with writing(run):
                run.save_vocabularies(*vocabularies, config.joint_vocabulary)
        self.source_vocabulary, self.target_vocabulary = vocabularies
        self.log(f"Tokenizer: {self.target_vocabulary.size} pieces"
                 + ("" if config.joint_vocabulary else f" (source {self.source_vocabulary.size})")
                 # Workers each learn the vocabulary: the fingerprint shows they agree.
                 + f", sha256 {hashlib.sha256(self.target_vocabulary.proto).hexdigest()[:12]}")

    def prepare_batches(self):
        """Tokenizes the training and validation pairs and groups them into batches of a few shapes."""
        config, corpus = self.config, self.corpus
        vocabularies = self.source_vocabulary, self.target_vocabulary
        lengths = (config.max_source_length, config.max_target_length, config.overlong)
        self.train_examples = make_examples(corpus.train, *vocabularies, *lengths)
        valid_examples = make_examples(corpus.valid, *vocabularies, *lengths)
        if self.train_examples.truncated or self.train_examples.dropped:
            self.log(f"Overlong training pairs: {self.train_examples.truncated} truncated, "
                     f"{self.train_examples.dropped} dropped.")
        train_data, valid_data = make_batches(
            self.train_examples, valid_examples, config, row_multiple=self.strategy.num_replicas_in_sync,
            resegment=subword_sampling(corpus.train, self.train_examples, config, *vocabularies))
        self.workers = distribution.num_workers()
        self.steps_per_epoch, self.train_tokens = len(train_data), train_data.target_tokens
        self.log(f"Batches: {self.steps_per_epoch} per epoch in shapes (rows, positions) {train_data.shapes}.")
        if train_data.resegment:
            self.log(f"Subword sampling (alpha {config.subword_alpha:g}): {100 * train_data.resegmented:.0f} % "
                     "of the training pairs fit their batch in the sampled segmentation, the rest keep the best.")
        if keras.backend.backend() == "tensorflow":
            train_data, valid_data = train_data.as_tf_dataset(), valid_data.as_tf_dataset()
            if self.workers > 1:
                from kseq.tf import strategies  # only multi-worker training on TensorFlow shards

                train_data, valid_data = map(strategies.shard_batches, (train_data, valid_data))
        self.train_data, self.valid_data = train_data, valid_data

    def prepare_model(self):
        """Builds (or, fine-tuning, loads) and compiles the model under the strategy, one replica
        per device, and writes config.json."""
        config, strategy = self.config, self.strategy
        with strategy.scope():
            self.model = (initial_model(config.init, config) if config.init else
                          build_model(config, self.target_vocabulary.size,
                                      None if config.joint_vocabulary else self.source_vocabulary.size))
            compile_model(self.model, config, self.steps_per_epoch)
        if self.workers > 1:
            from kseq.tf import strategies  # only multi-worker training on TensorFlow needs it

            strategies.fit_across_workers(self.model)
        if strategy.num_replicas_in_sync > 1:
            self.log(f"Distributed ({config.distribute}): {strategy.num_replicas_in_sync} replicas "
                     f"on {self.workers} worker{'s' * (self.workers > 1)}.")
        self.log(f"Model: {self.model.count_params():,} parameters on {keras.backend.backend()} "
                 f"({config.device}, {config.mixed_precision or 'float32'}).")
        with writing(self.run):
            self.run.write_config(config, self.model, self.target_vocabulary.size)

    def fit(self, callbacks=(), budget=None):
        """Trains for the epochs or the time budget, keeping the best epoch in model.keras; a resumed
        run goes on from its backup, or only evaluates if training had ended."""
        config, run, resume = self.config, self.run, self.resume
        self.budget = budget or (TimeBudget(config.time_budget_minutes, config.learning_rate, config.warmup_steps)
                                 if config.time_budget_minutes else None)
        self.throughput = Throughput(self.train_tokens, self.steps_per_epoch)
        if resume and run.trained:
            self.log("Training had ended before the interruption: evaluating the saved model.")
        else:
            initial_epoch = resume_from_backup(self.model, run.backup_dir) if resume else 0
            if (keras.backend.backend() == "jax" and config.jit_compile
                    and self.strategy.num_replicas_in_sync == 1):
                precompile_steps(self.model, self.train_data, self.valid_data, log=self.log)
            with writing(run):  # the checkpoints, backups, history and logs
                if resume:
                    drop_history_after(run.history_path, initial_epoch)
                validation_bleu = (ValidationBleu(self.corpus.valid, self.source_vocabulary, self.target_vocabulary,
                                                  config.bleu_subset, config.eval_batch_size)
                                   if config.bleu_subset and self.corpus.valid else None)
                monitor = "val_bleu" if validation_bleu else "val_loss"
                self.log("Checkpoint: model.keras keeps the epoch with the "
                         + (f"best greedy BLEU on {len(validation_bleu.sources)} validation sources."
                            if validation_bleu else "lowest validation loss."))
                fit(self.model, self.train_data, self.valid_data, config, training_callbacks(
                    run, self.throughput, resume, budget=self.budget, extra=callbacks,
                    best=best_logged_epoch(run.history_path, monitor) if resume else None,
                    averaged=bool(config.ema_momentum), validation_bleu=validation_bleu,
                    patience=config.patience), initial_epoch)
                if validation_bleu:
                    self.log(f"Validation BLEU: {validation_bleu.seconds:.0f} s of decoding in all.")
        self.training_seconds = time.time() - self.started

    def report_the_end(self):
        """Says why training stopped early (the budget, a NaN loss) and plots the curves.

        Raises `kseq.errors.TrainingError` when the loss became NaN before any checkpoint.
        """
        run = self.run
        if self.budget and self.budget.exhausted:
            self.log(f"Training stopped: the {self.config.time_budget_minutes:g}-minute budget is spent.")
        elif self.model.stop_training:  # StopOnNaN stopped it
            message = "Training stopped: the loss became NaN (try a lower --learning-rate)."
            if not os.path.isfile(run.model_path):
                raise TrainingError(f"{message} No epoch ended with a finite validation loss, so there "
                                    f"is no checkpoint ({run.model_path}) to evaluate.")
            self.log(f"{message} Evaluating the last good checkpoint, {run.model_path}.")
        with writing(run), atomic_file(run.curves_path) as temporary:
            plot_training_curves(run.history_path, temporary)

    def evaluate(self):
        """Scores the best checkpoint on the test pairs and writes metrics.json; returns the metrics."""
        config, corpus = self.config, self.corpus
        self.log(f"Evaluating on {len(corpus.test)} test pairs...")
        translator = KerasTranslator(self.run.load_model(), self.source_vocabulary, self.target_vocabulary,
                                  batch_size=config.eval_batch_size)
        scores, samples = evaluate(translator, corpus.test, config.eval_batch_size, verbose=sys.stdout.isatty())
        metrics = {
            "keras": scores,
            "train_seconds": round(self.training_seconds, 1),
            "target_tokens_per_second": self.throughput.best,
            "skipped_lines": len(corpus.skipped),
            "overlong_pairs": {"truncated": self.train_examples.truncated,
                               "dropped": self.train_examples.dropped},
        }
        with writing(self.run):
            self.run.write_metrics(metrics)
        self.log(f"Test: BLEU {scores['bleu']:.2f}, chrF {scores['chrf']:.2f}, "
                 f"exact match {scores['exact_match']:.1f} % ({scores['sentences']} sources).")
        for sample in samples[:: max(1, len(samples) // 5)][:5]:
            self.log(f"  {sample['source']}\n    -> {sample['translation']}\n    (ref: {sample['references'][0]})")
        return metrics
