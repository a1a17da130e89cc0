import keras
import numpy as np
import pytest

from kseq.loss import SmoothedSparseCrossentropy


def test_matches_keras_categorical_crossentropy_with_label_smoothing():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 11)).astype("float32")
    labels = rng.integers(0, 11, size=(3, 5))
    expected = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(
        keras.ops.one_hot(labels, 11), logits
    )
    ours = SmoothedSparseCrossentropy(0.1, reduction="sum_over_batch_size")(labels, logits)
    np.testing.assert_allclose(float(ours), float(expected), rtol=1e-5)


def test_padding_is_masked_out_through_sample_weight():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 4, 7)).astype("float32")
    labels = np.array([[4, 5, 3, 0], [6, 3, 0, 0]])
    weights = (labels != 0).astype("float32")
    loss = SmoothedSparseCrossentropy(0.0)
    masked = float(loss(labels, logits, sample_weight=weights))
    real = float(loss(labels[weights > 0][None], logits[weights > 0][None]))
    np.testing.assert_allclose(masked, real, rtol=1e-5)


def test_config_round_trip_and_bad_smoothing():
    loss = SmoothedSparseCrossentropy(0.2)
    assert SmoothedSparseCrossentropy.from_config(loss.get_config()).label_smoothing == 0.2
    with pytest.raises(ValueError, match="label_smoothing"):
        SmoothedSparseCrossentropy(1.0)


def test_large_logits_stay_finite_and_exact():
    rng = np.random.default_rng(2)
    logits = (300 * rng.normal(size=(2, 3, 9))).astype("float32")  # exp() alone would overflow
    labels = rng.integers(0, 9, size=(2, 3))
    expected = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(
        keras.ops.one_hot(labels, 9), logits
    )
    ours = SmoothedSparseCrossentropy(0.1, reduction="sum_over_batch_size")(labels, logits)
    assert np.isfinite(float(ours))
    np.testing.assert_allclose(float(ours), float(expected), rtol=1e-5)
