import os

import keras
import numpy as np

from kseq.run_directory import RunDirectory
from kseq.time_budget import TimeBudget
from kseq.training_callbacks import BestModelCheckpoint, StopOnNaN, Throughput, training_callbacks

PER_STEP_HOOKS = ("on_batch_end", "on_train_batch_end")


def per_step(callbacks):
    """The callbacks that make Keras wait for every step's logs (Keras' own rule)."""
    return [c for c in callbacks if not getattr(c, "async_safe", False)
            and any(not keras.src.utils.is_default(getattr(c, hook)) for hook in PER_STEP_HOOKS)]


def test_no_callback_waits_for_each_step_unless_there_is_a_time_budget(tmp_path):
    def waiting(**options):
        callbacks = training_callbacks(RunDirectory(tmp_path), Throughput(100, 10), **options)
        # TensorBoard is added on TensorFlow only, whose steps are synchronous anyway.
        return per_step([c for c in callbacks if not isinstance(c, keras.callbacks.TensorBoard)])

    assert waiting() == []
    budget = TimeBudget(1.0, learning_rate=1e-3)
    assert waiting(budget=budget) == [budget]


def fit(callbacks, learning_rate=1e-2, epochs=3):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate), "mse")
    return model.fit(np.ones((64, 3)), np.ones((64, 1)), batch_size=8, epochs=epochs,
                     validation_data=(np.ones((8, 3)), np.ones((8, 1))), callbacks=callbacks, verbose=0)


def test_throughput_counts_the_steps_taken_and_logs_each_epoch():
    throughput = Throughput(tokens_per_epoch=800, steps_per_epoch=8)
    history = fit([throughput])
    speeds = history.history["target_tokens_per_second"]
    assert len(speeds) == 3 and all(speed > 0 for speed in speeds) and throughput.best == max(speeds)


def test_stop_on_nan_stops_after_the_epoch_with_a_nan_loss():
    history = fit([StopOnNaN()], learning_rate=1e30, epochs=5)
    assert len(history.epoch) < 5 and not np.isfinite(history.history["loss"][-1])


def test_with_weight_averaging_the_checkpoint_holds_the_average(tmp_path):
    def checkpoint_and_final_weights(averaged):
        run = RunDirectory(tmp_path / str(averaged))
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(1e-2, use_ema=True, ema_momentum=0.9), "mse")
        model.fit(np.ones((64, 3)), np.ones((64, 1)), batch_size=8, epochs=2, verbose=0,
                  validation_data=(np.ones((8, 3)), np.ones((8, 1))),
                  callbacks=training_callbacks(run, Throughput(64, 8), averaged=averaged))
        # fit() ends by writing the average into the model's weights.
        return keras.saving.load_model(run.model_path, compile=False).get_weights()[0], model.get_weights()[0]

    saved, average = checkpoint_and_final_weights(averaged=True)
    np.testing.assert_allclose(saved, average)  # the last (best) epoch's checkpoint is the average
    saved, average = checkpoint_and_final_weights(averaged=False)
    assert not np.allclose(saved, average)  # without the swap, it would hold the raw weights


def test_the_checkpoint_keeps_the_lowest_validation_loss_and_never_a_nan_one(tmp_path):
    run = RunDirectory(tmp_path)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    checkpoint = BestModelCheckpoint(run, best_loss=2.0)  # a resumed run's best so far
    checkpoint.set_model(model)

    def epoch(val_loss, kernel):
        model.layers[0].kernel.assign(np.full((3, 1), kernel))
        checkpoint.on_epoch_end(0, {"loss": 1.0, "val_loss": val_loss})
        return keras.saving.load_model(run.model_path).get_weights()[0][0, 0] if os.path.exists(run.model_path) else None

    assert epoch(3.0, 1.0) is None  # not better than the resumed run's best
    assert epoch(1.5, 2.0) == 2.0
    assert epoch(float("nan"), 3.0) == 2.0
    assert epoch(1.6, 4.0) == 2.0
    assert epoch(1.0, 5.0) == 5.0
