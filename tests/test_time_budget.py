import json
import os
import subprocess
import sys

import pytest

from kseq.time_budget import TimeBudget, budgeted_learning_rate


def test_rate_warms_up_over_steps_then_decays_over_the_budget():
    assert budgeted_learning_rate(1e-3, 10, step=0, spent=0.0) == pytest.approx(1e-4)
    assert budgeted_learning_rate(1e-3, 10, step=9, spent=0.0) == pytest.approx(1e-3)
    assert budgeted_learning_rate(1e-3, 10, step=100, spent=0.5) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))
    assert budgeted_learning_rate(1e-3, 10, step=100, spent=1.5) == pytest.approx(1e-4)


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_budget_stops_fit_and_drives_the_rate_on_every_backend(backend):
    """On JAX a schedule's variable would be frozen into the compiled step: the rate must still move."""
    result = subprocess.run([sys.executable, "-c", BUDGETED_FIT], env=dict(os.environ, KERAS_BACKEND=backend),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    epochs, exhausted, elapsed, rates = json.loads(result.stdout.strip().splitlines()[-1])
    assert exhausted and epochs == 2 and elapsed == 6  # 12 steps of 0.5 s: 8 in the first epoch, 4 in the second
    assert rates[0] < rates[1] and rates[-1] == pytest.approx(1e-3, rel=0.1)  # warmup, then the floor


BUDGETED_FIT = """
import json, types, keras, numpy as np
from kseq import time_budget
from kseq.time_budget import TimeBudget

class HalfSecondSteps(keras.callbacks.Callback):
    \"\"\"The budget's clock: each step takes 0.5 s, however long it (or its compilation) really took.\"\"\"
    now = 0.0
    def on_train_batch_end(self, batch, logs=None):
        HalfSecondSteps.now += 0.5

class Rates(keras.callbacks.Callback):
    rates = []
    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

time_budget.time = types.SimpleNamespace(perf_counter=lambda: HalfSecondSteps.now)
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
model.compile(keras.optimizers.Adam(0.0), "mse", jit_compile=True)
budget = TimeBudget(minutes=0.1, learning_rate=1e-2, warmup_steps=3)  # 6 s: 12 steps of the fake clock
history = model.fit(np.ones((64, 3)), np.ones((64, 1)), batch_size=8, epochs=100_000,
                    callbacks=[HalfSecondSteps(), budget, Rates()], verbose=0)  # the clock ticks, then the budget reads it
# The rate the last steps trained with, read from the optimizer's own state.
print(json.dumps([len(history.epoch), budget.exhausted, budget.elapsed(), Rates.rates[1:3] + [budget.current_rate]]))
"""


def test_the_decay_starts_after_the_compiling_first_step(monkeypatch):
    """A 30-s compile in a 1-minute budget must not halve the rate before training starts."""
    import keras

    clock = [0.0]
    monkeypatch.setattr("kseq.time_budget.time.perf_counter", lambda: clock[0])
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.0), "mse")
    budget = TimeBudget(minutes=1, learning_rate=1e-3, alpha=0.0)
    budget.set_model(model)
    budget.on_train_begin()
    rates = []
    for step_seconds in (30, 15, 15):
        budget.on_train_batch_begin(0)
        clock[0] += step_seconds
        budget.on_train_batch_end(0)
        rates.append(budget.current_rate)
    assert rates[0] == pytest.approx(1e-3)  # the decay's clock starts here, not at 0
    assert rates[1] == pytest.approx(0.5e-3)  # half of the 30 s left
    assert rates[2] == pytest.approx(0.0, abs=1e-9) and budget.exhausted


def test_paused_time_is_not_counted(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr("kseq.time_budget.time.perf_counter", lambda: clock[0])
    budget = TimeBudget(minutes=1)
    budget.resume()
    clock[0] += 2
    budget.pause()
    clock[0] += 30
    assert budget.elapsed() == 2
    budget.resume()
    clock[0] += 1
    assert budget.elapsed() == 3


@pytest.mark.parametrize("minutes", ["0", "-5", "nan"])
def test_a_budget_that_is_not_positive_is_refused_naming_the_flag(minutes, capsys):
    from kseq.commands import main

    with pytest.raises(SystemExit):
        main(["train", "--time-budget", minutes])
    assert "--time-budget must be a positive number of minutes" in capsys.readouterr().err
    with pytest.raises(ValueError, match="minutes"):
        TimeBudget(float(minutes))
