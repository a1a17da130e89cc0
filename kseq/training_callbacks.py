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

from kseq.checkpoint import EpochBackup


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


class BestModelCheckpoint(keras.callbacks.Callback):
    """Saves the run's model.keras after each epoch with the lowest `val_loss` so far.

    Keras' `ModelCheckpoint` saves the optimizer's slots too; `RunDirectory.save_model`
    keeps the weights only. `best_loss` is a resumed run's best so far; a NaN epoch is
    never lower, so it cannot overwrite a good model.
    """

    async_safe = True  # saves once an epoch: needs no step's logs

    def __init__(self, run, best_loss=math.inf):
        super().__init__()
        self.run = run
        self.best_loss = best_loss

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("val_loss")
        if loss is not None and float(loss) < self.best_loss:
            self.best_loss = float(loss)
            self.run.save_model(self.model)


def training_callbacks(run, throughput, resume=False, best_loss=math.inf, budget=None, extra=(),
                       averaged=False):
    """Everything `fit()` gets in `kseq train`, in order (`run`: the `RunDirectory`).

    `averaged`: the optimizer keeps an average of the weights (EMA), which is
    then what validation scores and the checkpoint keeps.
    """
    return [
        StopOnNaN(),
        *([budget] if budget else []),
        throughput,
        *([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)] if averaged else []),
        keras.callbacks.CSVLogger(run.history_path, append=resume),
        # TensorBoard's writer is TensorFlow's: the curves go to history.csv elsewhere.
        *([keras.callbacks.TensorBoard(run.logs_dir)]
          if keras.backend.backend() == "tensorflow" else []),
        BestModelCheckpoint(run, best_loss),
        *extra,
        TrainingFinished(run),
        # Last, so an epoch is only marked done once the others have logged it.
        EpochBackup(run.backup_dir),
    ]
