"""The callbacks `train.py` gives `fit()`, and why none of them runs per step.

A callback with a per-batch hook makes Keras turn each step's logs into Python
floats, so the host waits for every step before it sends the next: the
accelerator idles in between. So these hook epochs only, and declare
`async_safe`; `TimeBudget` is the one per-step callback, there only with a
time budget.
"""

import math
import time

import keras
from keras import ops

from kseq.backends import KerasTranslator
from kseq.batch_translation import translate_batches
from kseq.checkpoint import EpochBackup
from kseq.evaluation import group_references, score

MONITORS = ("val_bleu", "val_loss")


class Throughput(keras.callbacks.Callback):
    """Logs `target_tokens_per_second` (pieces and end ids that count in the loss) of each epoch's training.

    Timed from the epoch's start to its validation (or its end), and scaled
    by the steps taken, so an epoch cut short by a time budget counts right.
    `best` keeps the fastest epoch.

    Args:
        tokens_per_epoch: int. Target tokens in one pass over the batches.
        steps_per_epoch: int. Batches in one pass.
    """

    async_safe = True

    def __init__(self, tokens_per_epoch, steps_per_epoch):
        super().__init__()
        self.tokens_per_epoch = tokens_per_epoch
        self.steps_per_epoch = steps_per_epoch
        self.best = None

    def _iterations(self):
        return int(ops.convert_to_numpy(self.model.optimizer.iterations))

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.first_step, self.speed = time.perf_counter(), self._iterations(), None

    def on_test_begin(self, logs=None):
        if self.speed is None:
            steps = self._iterations() - self.first_step
            seconds = time.perf_counter() - self.started
            self.speed = round(self.tokens_per_epoch * steps / self.steps_per_epoch / seconds)

    def on_epoch_end(self, epoch, logs=None):
        self.on_test_begin()
        self.best = max(self.best or 0, self.speed)
        if logs is not None:
            logs["target_tokens_per_second"] = self.speed


class StopOnNaN(keras.callbacks.Callback):
    """Stops training after an epoch whose loss is NaN or infinite.

    Keras' `TerminateOnNaN` looks at every batch's loss, which costs a wait
    for every step; checking once an epoch costs at most that epoch.
    """

    async_safe = True

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.model.stop_training = True


class TrainingFinished(keras.callbacks.Callback):
    """Marks the run directory once `fit()` has ended, before the epoch backup is deleted,
    so that `--resume` after a kill during evaluation evaluates instead of training anew."""

    async_safe = True

    def __init__(self, run):
        super().__init__()
        self.run = run

    def on_train_end(self, logs=None):
        self.run.mark_trained()


class ValidationBleu(keras.callbacks.Callback):
    """Logs `val_bleu` after each epoch: greedy BLEU on the first `sources` valid sources.

    With label smoothing, validation loss and BLEU part ways late in training:
    the loss can rise while translations still improve. So the checkpoint is
    chosen by this score. One `KerasTranslator` serves every epoch, its rows
    padded to `batch_size`, so the decoder compiles once per shape.

    Args:
        pairs: (source, target) validation pairs; sources with several
            targets count once, with every reference.
        source_vocabulary, target_vocabulary: `kseq.vocabulary.Vocabulary`s.
        sources: int. How many distinct sources to decode.
        batch_size: int. Rows per decoding call.
    """

    async_safe = True  # decodes once an epoch: needs no step's logs

    def __init__(self, pairs, source_vocabulary, target_vocabulary, sources=500, batch_size=64):
        super().__init__()
        all_sources, all_references = group_references(pairs)
        self.sources, self.references = all_sources[:sources], all_references[:sources]
        self.vocabularies = source_vocabulary, target_vocabulary
        self.batch_size = batch_size
        self.translator = None
        self.seconds = 0.0  # spent decoding, over the whole run

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or not self.sources:
            return
        started = time.perf_counter()
        if self.translator is None:
            self.translator = KerasTranslator(self.model, *self.vocabularies, batch_size=self.batch_size)
        hypotheses, _ = translate_batches(self.translator, self.sources, self.batch_size, progress=False)
        logs["val_bleu"] = score(hypotheses, self.references)["bleu"]
        self.seconds += time.perf_counter() - started


def is_better(logs, best, monitor="val_loss"):
    """Whether an epoch's `logs` beat the `best` epoch's (None: no epoch yet) by `monitor`.

    "val_loss": lower is better; "val_bleu": higher is better, ties going to
    the lower val_loss. An epoch whose val_loss is missing or not finite is
    never better, so a NaN epoch cannot replace a good one.
    """
    loss = logs.get("val_loss")
    if loss is None or not math.isfinite(float(loss)) or (monitor == "val_bleu" and logs.get("val_bleu") is None):
        return False
    if best is None:
        return True
    if monitor == "val_bleu" and float(logs["val_bleu"]) != float(best["val_bleu"]):
        return float(logs["val_bleu"]) > float(best["val_bleu"])
    return float(loss) < float(best["val_loss"])


class BestModelCheckpoint(keras.callbacks.Callback):
    """Saves the run's model.keras after each epoch that is the best so far by `monitor` (`is_better`).

    Keras' `ModelCheckpoint` saves the optimizer's slots too; `RunDirectory.save_model`
    keeps the weights only.

    Args:
        run: the `RunDirectory`.
        monitor: "val_bleu" (with `ValidationBleu` before this callback) or "val_loss".
        best: a resumed run's best epoch so far, its logs (`val_loss`, `val_bleu`); None: none.
    """

    async_safe = True  # saves once an epoch: needs no step's logs

    def __init__(self, run, monitor="val_loss", best=None):
        super().__init__()
        if monitor not in MONITORS:
            raise ValueError(f"`monitor` must be one of {MONITORS}. Received: monitor={monitor!r}")
        self.run = run
        self.monitor = monitor
        self.best = best

    def on_epoch_end(self, epoch, logs=None):
        if is_better(logs or {}, self.best, self.monitor):
            self.best = dict(logs)
            self.run.save_model(self.model)


def training_callbacks(run, throughput, resume=False, best=None, budget=None, extra=(),
                       averaged=False, validation_bleu=None, patience=0):
    """Everything `fit()` gets in `kseq train`, in order (`run`: the `RunDirectory`).

    `averaged`: the optimizer keeps an average of the weights (EMA), which is
    then what validation scores and the checkpoint keeps. `validation_bleu`: a
    `ValidationBleu`, whose score then chooses the checkpoint (else the
    validation loss); `best`: a resumed run's best epoch (`BestModelCheckpoint`).
    `patience` > 0 stops training after that many epochs without a better one.
    """
    monitor = "val_bleu" if validation_bleu else "val_loss"
    return [
        StopOnNaN(),
        *([budget] if budget else []),
        throughput,
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if averaged else []),
        # Before the logger and the checkpoint, which read its score.
        *([validation_bleu] if validation_bleu else []),
        keras.callbacks.CSVLogger(run.history_path, append=resume),
        # TensorBoard's writer is TensorFlow's: the curves go to history.csv elsewhere.
        *([keras.callbacks.TensorBoard(run.logs_dir)]
          if keras.backend.backend() == "tensorflow" else []),
        BestModelCheckpoint(run, monitor, best),
        *([keras.callbacks.EarlyStopping(monitor, patience=patience, mode="max" if validation_bleu else "min")]
          if patience else []),
        *extra,
        TrainingFinished(run),
        # Last, so an epoch is only marked done once the others have logged it.
        EpochBackup(run.backup_dir),
    ]
