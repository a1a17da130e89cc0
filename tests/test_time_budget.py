import time

import keras
import numpy as np
import pytest

from kseq.time_budget import BudgetedCosineDecay, TimeBudget


def test_schedule_warms_up_over_steps_then_decays_over_the_budget():
    schedule = BudgetedCosineDecay(1e-3, warmup_steps=10, alpha=0.1)
    assert float(schedule(0)) == pytest.approx(1e-4)
    assert float(schedule(9)) == pytest.approx(1e-3)
    schedule.spent.assign(0.5)
    assert float(schedule(100)) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))
    schedule.spent.assign(1.0)
    assert float(schedule(100)) == pytest.approx(1e-4)
    assert BudgetedCosineDecay(**schedule.get_config()).get_config() == schedule.get_config()


def test_budget_stops_fit_and_drives_the_schedule():
    schedule = BudgetedCosineDecay(1e-2, warmup_steps=1)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(schedule), "mse")
    budget = TimeBudget(minutes=0.02, schedule=schedule)  # 1.2 s
    started = time.perf_counter()
    history = model.fit(np.ones((64, 3)), np.ones((64, 1)), batch_size=8, epochs=100_000,
                        callbacks=[budget], verbose=0)
    assert budget.exhausted and len(history.epoch) < 100_000
    assert float(schedule.spent.numpy()) == 1.0
    assert 1.2 <= budget.elapsed() <= time.perf_counter() - started


def test_paused_time_is_not_counted():
    budget = TimeBudget(minutes=1)
    budget.resume()
    budget.pause()
    time.sleep(0.3)
    assert budget.elapsed() < 0.1


@pytest.mark.parametrize("minutes", ["0", "-5", "nan"])
def test_a_budget_that_is_not_positive_is_refused_naming_the_flag(minutes, capsys):
    from kseq.training import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--time-budget", minutes])
    assert "--time-budget must be a positive number of minutes" in capsys.readouterr().err
    with pytest.raises(ValueError, match="minutes"):
        TimeBudget(float(minutes))
