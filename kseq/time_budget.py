"""Training for a wall-clock budget: the learning rate decays over the time, not the steps.

A fixed budget is how a CPU user thinks ("train for 30 minutes"), and the best
model for a budget is the one whose learning rate has fully decayed when the
time is up. Keras' schedules are functions of the step, whose count per minute
nobody knows in advance, so the cosine decay here follows the share of the
budget already spent, which `TimeBudget` updates after every batch.
"""

import math
import time

import keras
from keras import ops


@keras.saving.register_keras_serializable("kseq")
class BudgetedCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup over steps, then cosine decay over the spent share of the budget.

    Args:
        learning_rate: float. The peak, reached after `warmup_steps`.
        warmup_steps: int. Steps of linear warmup from 0.
        alpha: float. The floor, as a share of the peak.
    """

    def __init__(self, learning_rate, warmup_steps, alpha=0.1):
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.alpha = alpha
        # Share of the budget spent, in [0, 1]: set by `TimeBudget`, read in the train step.
        self.spent = keras.Variable(0.0, dtype="float32", trainable=False, name="budget_spent")

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = ops.minimum(1.0, (step + 1.0) / max(1, self.warmup_steps))
        cosine = 0.5 * (1.0 + ops.cos(math.pi * ops.clip(self.spent, 0.0, 1.0)))
        return self.learning_rate * warmup * (self.alpha + (1.0 - self.alpha) * cosine)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "warmup_steps": self.warmup_steps,
                "alpha": self.alpha}


class TimeBudget(keras.callbacks.Callback):
    """Stops training once `minutes` of it have passed; `exhausted` tells it did.

    Time spent outside `fit`'s batches and validation (between `pause()` and
    `resume()`) is not counted. With a `BudgetedCosineDecay`, keeps its share
    of the budget spent up to date.

    Args:
        minutes: float. The budget.
        schedule: a `BudgetedCosineDecay` or None.
    """

    def __init__(self, minutes, schedule=None):
        super().__init__()
        if not minutes > 0:
            raise ValueError(f"`minutes` must be positive. Received: minutes={minutes}")
        self.seconds = 60.0 * minutes
        self.schedule = schedule
        self.spent_seconds = 0.0
        self.exhausted = False
        self._since = None

    def pause(self):
        self.spent_seconds += time.perf_counter() - self._since
        self._since = None

    def resume(self):
        self._since = time.perf_counter()

    def elapsed(self):
        """Seconds of the budget spent so far."""
        running = time.perf_counter() - self._since if self._since is not None else 0.0
        return self.spent_seconds + running

    def on_train_begin(self, logs=None):
        self.resume()

    def on_train_end(self, logs=None):
        if self._since is not None:
            self.pause()

    def on_train_batch_end(self, batch, logs=None):
        share = self.elapsed() / self.seconds
        if self.schedule is not None:
            self.schedule.spent.assign(min(1.0, share))
        if share >= 1.0:
            self.exhausted = True
            self.model.stop_training = True
