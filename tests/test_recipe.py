import keras
import numpy as np
from conftest import tiny_config

from kseq.recipe import build_model, compile_model


def test_separate_vocabularies_get_their_own_source_embedding():
    joint = build_model(tiny_config(), 300)
    separate = build_model(tiny_config(), 300, source_vocabulary_size=200)
    assert joint.source_embedding is joint.target_embedding
    assert separate.source_embedding.input_dim == 200 and separate.target_embedding.input_dim == 300


def test_the_schedule_follows_the_epochs_or_the_budget_and_averaging_is_opt_in():
    model = build_model(tiny_config(), 300)
    compile_model(model, tiny_config(epochs=2), steps_per_epoch=50)
    by_epochs = model.optimizer._learning_rate
    assert isinstance(by_epochs, keras.optimizers.schedules.CosineDecay)
    assert by_epochs.decay_steps == 2 * 50 - 20 and not model.optimizer.use_ema

    # Under a budget the rate is a plain variable that `TimeBudget` sets as time passes.
    compile_model(model, tiny_config(time_budget_minutes=5, ema_momentum=0.999), 50)
    assert float(model.optimizer.learning_rate) == 0.0
    assert model.optimizer.use_ema and model.optimizer.ema_momentum == 0.999


def test_the_train_step_is_traced_once():
    """The optimizer is built at compile time: tf.function need not trace the step a second time."""
    model = build_model(tiny_config(), 300)
    compile_model(model, tiny_config(), steps_per_epoch=10)
    assert model.optimizer.built
    traces = []
    train_step = model.train_step
    model.train_step = lambda data: traces.append(data) or train_step(data)  # runs only while tracing
    ids = np.ones((2, 5), "int32")
    model.train_on_batch({"encoder_inputs": ids, "decoder_inputs": ids}, ids)
    model.train_on_batch({"encoder_inputs": ids, "decoder_inputs": ids}, ids)
    assert len(traces) == 1
