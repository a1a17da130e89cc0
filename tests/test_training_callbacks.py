import os

import keras
import numpy as np

from kseq.run_directory import RunDirectory
from kseq.time_budget import TimeBudget
from kseq.training_callbacks import (
    BestModelCheckpoint,
    StopOnNaN,
    Throughput,
    ValidationBleu,
    is_better,
    training_callbacks,
)

PER_STEP_HOOKS = ("on_batch_end", "on_train_batch_end")


def per_step(callbacks):
    """The callbacks that make Keras wait for every step's logs (Keras' own rule: a per-step hook
    other than `keras.callbacks.Callback`'s own)."""
    return [c for c in callbacks if not getattr(c, "async_safe", False)
            and any(getattr(type(c), hook) is not getattr(keras.callbacks.Callback, hook)
                    for hook in PER_STEP_HOOKS)]


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


def checkpointed_kernels(run, checkpoint, epochs):
    """Feeds `checkpoint` epochs of (logs, kernel value); returns model.keras' kernel after each."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    checkpoint.set_model(model)
    saved = []
    for logs, kernel in epochs:
        model.layers[0].kernel.assign(np.full((3, 1), kernel))
        checkpoint.on_epoch_end(0, logs)
        saved.append(keras.saving.load_model(run.model_path).get_weights()[0][0, 0]
                     if os.path.exists(run.model_path) else None)
    return saved


def test_the_checkpoint_keeps_the_lowest_validation_loss_and_never_a_nan_one(tmp_path):
    run = RunDirectory(tmp_path)
    checkpoint = BestModelCheckpoint(run, best={"val_loss": 2.0})  # a resumed run's best so far
    assert checkpointed_kernels(run, checkpoint, [
        ({"val_loss": 3.0}, 1.0),  # not better than the resumed run's best
        ({"val_loss": 1.5}, 2.0),
        ({"val_loss": float("nan")}, 3.0),
        ({"val_loss": 1.6}, 4.0),
    ]) == [None, 2.0, 2.0, 2.0]


def test_by_validation_bleu_the_checkpoint_keeps_the_best_translator_even_as_the_loss_rises(tmp_path):
    run = RunDirectory(tmp_path)
    assert checkpointed_kernels(run, BestModelCheckpoint(run, "val_bleu"), [
        ({"val_loss": 2.0, "val_bleu": 20.0}, 1.0),
        ({"val_loss": 2.1, "val_bleu": 22.0}, 2.0),  # the loss rose, BLEU too: kept
        ({"val_loss": 1.9, "val_bleu": 21.0}, 3.0),
        ({"val_loss": 2.05, "val_bleu": 22.0}, 4.0),  # a tie in BLEU goes to the lower loss
        ({"val_loss": float("nan"), "val_bleu": 50.0}, 5.0),  # never a NaN epoch
    ]) == [1.0, 2.0, 2.0, 4.0, 4.0]


def test_is_better_refuses_an_unknown_or_missing_score():
    assert is_better({"val_loss": 1.0}, None) and not is_better({"val_loss": 1.0}, None, "val_bleu")
    assert not is_better({}, None)
    try:
        BestModelCheckpoint(None, "bleu")
    except ValueError as error:
        assert "monitor='bleu'" in str(error)
    else:
        raise AssertionError("an unknown monitor was accepted")


def test_validation_bleu_scores_the_model_each_epoch_with_one_decoder(tiny_run):
    from kseq.backends import KerasTranslator
    from kseq.data import load_corpus
    from kseq.evaluation import evaluate, group_references

    run = RunDirectory(tiny_run[0])
    model = run.load_model()
    valid = load_corpus(run.settings["data"]).valid
    validation_bleu = ValidationBleu(valid, *run.vocabularies(), sources=40, batch_size=16)
    validation_bleu.set_model(model)
    logs = [{"val_loss": 1.0}, {"val_loss": 1.0}]
    validation_bleu.on_epoch_end(0, logs[0])
    decoder = validation_bleu.translator
    validation_bleu.on_epoch_end(1, logs[1])
    assert validation_bleu.translator is decoder and len(validation_bleu.sources) == 40
    sources, references = group_references(valid)
    pairs = [(s, r) for s, refs in zip(sources[:40], references[:40]) for r in refs]
    expected, _ = evaluate(KerasTranslator(model, *run.vocabularies(), batch_size=16), pairs, 16, verbose=False)
    assert logs[0]["val_bleu"] == logs[1]["val_bleu"] == expected["bleu"]
    assert validation_bleu.seconds > 0


def test_validation_bleu_comes_before_the_callbacks_that_read_its_score(tmp_path):
    validation_bleu = ValidationBleu([("a", "b")], None, None)
    callbacks = training_callbacks(RunDirectory(tmp_path), Throughput(100, 10), validation_bleu=validation_bleu,
                                   patience=3)
    kinds = [type(c) for c in callbacks]
    order = [kinds.index(k) for k in (ValidationBleu, keras.callbacks.CSVLogger, BestModelCheckpoint,
                                       keras.callbacks.EarlyStopping)]
    assert order == sorted(order)
    stopping = callbacks[order[-1]]
    assert (stopping.monitor, stopping.patience, stopping.mode) == ("val_bleu", 3, "max")
    assert callbacks[order[2]].monitor == "val_bleu"
    assert not any(isinstance(c, keras.callbacks.EarlyStopping) for c in training_callbacks(
        RunDirectory(tmp_path), Throughput(100, 10)))
