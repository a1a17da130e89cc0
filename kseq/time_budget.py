"""Training for a wall-clock budget: the learning rate decays over the time, not the steps.

A fixed budget is how a CPU user thinks ("train for 30 minutes"), and the best
model for a budget is the one whose learning rate has fully decayed when the
time is up. Keras' schedules are functions of the step, whose count per minute
nobody knows in advance, so here a callback sets the optimizer's learning
rate from the share of the budget already spent. It sets the optimizer's own
variable, which every backend reads at each step (on JAX a schedule's
variable would be frozen into the compiled step). The decay starts after the
first step, which compiles (for minutes on a GPU), so a short budget is not
decayed before it trains.
"""

import math
import time

import keras

from kseq.errors import UsageError


def budgeted_learning_rate(peak, warmup_steps, step, spent, alpha=0.1):
    """Linear warmup over `warmup_steps`, then cosine decay over the `spent` share of the budget.

    Args:
        peak: float. The rate after warmup.
        step: int. Steps taken so far.
        spent: float. Share of the budget spent, clipped to [0, 1].
        alpha: float. The floor, as a share of the peak.
    """
    warmup = min(1.0, (step + 1) / max(1, warmup_steps))
    cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, spent))))
    return peak * warmup * (alpha + (1.0 - alpha) * cosine)


class TimeBudget(keras.callbacks.Callback):
    """Stops training once `minutes` of it have passed; `exhausted` tells it did.

    Time spent outside `fit`'s batches and validation (between `pause()` and
    `resume()`) is not counted. Given a `learning_rate`, it drives the
    optimizer's rate with `budgeted_learning_rate`, updating it when it moves
    by more than `tolerance` of the peak (each update costs a state sync on JAX).

    Args:
        minutes: float. The budget.
        learning_rate: float or None. The peak rate; None leaves the rate alone.
        warmup_steps: int. Steps of linear warmup from 0.
        alpha: float. The floor, as a share of the peak.
        tolerance: float. Least change of the rate, as a share of the peak, worth setting.
    """

    def __init__(self, minutes, learning_rate=None, warmup_steps=0, alpha=0.1, tolerance=0.005):
        super().__init__()
        if not minutes > 0:
            raise UsageError(f"`minutes` must be positive. Received: minutes={minutes}")
        self.seconds = 60.0 * minutes
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.alpha = alpha
        self.tolerance = tolerance
        self.spent_seconds = 0.0
        self.exhausted = False
        self.steps = 0
        self.current_rate = None
        self.first_step_seconds = None
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
        self.steps = None
        self.first_step_seconds = None
        self.resume()

    def on_train_batch_begin(self, batch, logs=None):
        if self.steps is None:
            # A resumed run's step count: the optimizer restored from the backup.
            self.steps = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            self.current_rate = None
            self._set_rate(0.0)

    def on_train_end(self, logs=None):
        if self._since is not None:
            self.pause()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        elapsed = self.elapsed()
        if self.first_step_seconds is None:
            self.first_step_seconds = elapsed
        # The schedule's share of the budget: the time after the compiling first step.
        decaying = self.seconds - self.first_step_seconds
        self._set_rate((elapsed - self.first_step_seconds) / decaying if decaying > 0 else 1.0)
        if elapsed >= self.seconds:
            self.exhausted = True
            self.model.stop_training = True

    def _set_rate(self, share):
        if self.learning_rate is None:
            return
        rate = budgeted_learning_rate(self.learning_rate, self.warmup_steps, self.steps, share, self.alpha)
        if self.current_rate is not None and abs(rate - self.current_rate) < self.tolerance * self.learning_rate:
            return
        if hasattr(self.model, "jax_state_sync"):
            # JAX keeps the training state outside the variables within an
            # epoch: write it back so the next step reads the new rate.
            self.model.jax_state_sync()
        self.model.optimizer.learning_rate = rate
        self.current_rate = rate
