import numpy as np
import pytest

from kseq.batching import (
    MAX_BUCKETS,
    LengthBatches,
    choose_bucket_lengths,
    model_inputs,
    pair_lengths,
    rows_per_batch,
)
from kseq.special_ids import END_ID, START_ID


def random_pairs(count, seed=0, longest=60):
    """0-padded (source, target) id arrays of random lengths, sources ending with the end id."""
    random = np.random.default_rng(seed)
    source = np.zeros((count, longest), np.int32)
    target = np.zeros((count, longest - 1), np.int32)
    for row in range(count):
        n, m = random.integers(1, longest), random.integers(1, longest - 1)
        source[row, : n - 1] = random.integers(4, 100, n - 1)
        source[row, n - 1] = END_ID
        target[row, :m] = random.integers(4, 100, m)
    return source, target


def test_bucket_lengths_are_few_and_waste_the_least():
    lengths = [5] * 100 + [9] * 100 + [30] * 10 + [61]
    chosen = choose_bucket_lengths(lengths)
    assert chosen == [8, 16, 32, 61]
    assert choose_bucket_lengths(lengths, max_buckets=1) == [61]
    assert choose_bucket_lengths([3, 3]) == [3]

    def waste(buckets):
        return sum(min(b for b in buckets if b >= n) for n in lengths)

    # No other choice of 4 lengths that are multiples of 8 does better.
    assert waste(chosen) <= min(waste([a, b, c, 61]) for a in range(8, 61, 8)
                                for b in range(8, 61, 8) for c in range(8, 61, 8))


def test_rows_are_multiples_of_8_and_of_the_devices():
    assert rows_per_batch(16, 2048) == 128 and rows_per_batch(24, 2048) == 80
    assert rows_per_batch(24, 2048, row_multiple=3) == 72
    assert rows_per_batch(512, 2048) == 4 and rows_per_batch(512, 2048, row_multiple=2) == 4
    assert rows_per_batch(4096, 2048) == 1


def test_padding_rows_weigh_nothing():
    source = np.array([[7, 8, END_ID], [0, 0, 0]], np.int32)
    target = np.array([[9, 10], [0, 0]], np.int32)
    inputs, labels, weights = model_inputs(source, target)
    np.testing.assert_array_equal(inputs["decoder_inputs"], [[START_ID, 9, 10], [0, 0, 0]])
    np.testing.assert_array_equal(labels, [[9, 10, END_ID], [0, 0, 0]])
    np.testing.assert_array_equal(weights, [[1, 1, 1], [0, 0, 0]])


def test_batches_have_one_shape_per_bucket_and_hold_every_pair_once():
    source, target = random_pairs(500)
    batches = LengthBatches(source, target, tokens_per_batch=512, shuffle=True, seed=1)
    shapes = {batches[i][0]["encoder_inputs"].shape for i in range(len(batches))}
    assert len(shapes) == len(batches.shapes) <= MAX_BUCKETS and shapes == set(batches.shapes)

    def rows(batch):
        inputs, labels, weights = batch
        assert inputs["decoder_inputs"].shape == labels.shape == weights.shape
        assert inputs["encoder_inputs"].shape == labels.shape
        for s, l, w in zip(inputs["encoder_inputs"], labels, weights):
            if w.any():
                yield tuple(np.trim_zeros(s, "b")), tuple(l[w > 0])

    seen = sorted(row for i in range(len(batches)) for row in rows(batches[i]))
    expected = sorted(row for row in rows(model_inputs(source, target)))
    assert seen == expected
    first_epoch = [batches[i][1].tolist() for i in range(len(batches))]
    batches.on_epoch_end()
    assert [batches[i][1].tolist() for i in range(len(batches))] != first_epoch  # reshuffled


def test_padding_rows_add_nothing_to_the_loss():
    from kseq.loss import SmoothedSparseCrossentropy

    source, target = random_pairs(3)
    inputs, labels, weights = model_inputs(source, target)
    padded_inputs, padded_labels, padded_weights = model_inputs(
        np.pad(source, ((0, 5), (0, 0))), np.pad(target, ((0, 5), (0, 0))))
    logits = np.random.default_rng(0).normal(size=(*labels.shape, 100)).astype("float32")
    padded_logits = np.pad(logits, ((0, 5), (0, 0), (0, 0)))
    loss = SmoothedSparseCrossentropy(0.1)
    assert float(loss(padded_labels, padded_logits, padded_weights)) == pytest.approx(
        float(loss(labels, logits, weights)), rel=1e-6)


def test_a_pair_longer_than_the_buckets_is_refused():
    source, target = random_pairs(10)
    with pytest.raises(ValueError, match="does not fit the longest bucket"):
        LengthBatches(source, target, 512, bucket_lengths=[8, 16])


def test_pair_lengths_count_the_start_id():
    source = np.array([[5, END_ID, 0, 0]], np.int32)
    target = np.array([[6, 7, 8, 0]], np.int32)
    assert pair_lengths(source, target).tolist() == [4]


def test_the_tf_dataset_draws_a_new_order_each_pass():
    source, target = random_pairs(300)
    batches = LengthBatches(source, target, tokens_per_batch=512, shuffle=True, seed=1)
    dataset = batches.as_tf_dataset()
    passes = [[labels.numpy().tolist() for _, labels, _ in dataset] for _ in range(2)]
    assert len(passes[0]) == len(passes[1]) == len(batches) and passes[0] != passes[1]


def test_resegmenting_keeps_the_shapes_and_falls_back_where_a_pair_outgrows_its_bucket():
    source, target = random_pairs(200, longest=30)
    longer_target = np.pad(target, ((0, 0), (0, 40)))
    longer_target[:, target.shape[1]] = 99  # every pair one piece longer, some past their bucket
    batches = LengthBatches(source, target, tokens_per_batch=512, shuffle=True, seed=1,
                            resegment=lambda: (source, longer_target))
    shapes, count = batches.shapes, len(batches)
    fits = pair_lengths(source, longer_target) <= np.take(batches.bucket_lengths, batches.bucket)
    assert 0 < fits.mean() < 1 and batches.resegmented == fits.mean()
    assert (batches.target[fits, target.shape[1]] == 99).all()
    assert (batches.target[~fits, target.shape[1]] == 0).all()  # the first segmentation, kept
    batches.on_epoch_end()
    assert batches.shapes == shapes and len(batches) == count
    assert {batches[i][0]["encoder_inputs"].shape for i in range(count)} == set(shapes)



def test_no_side_is_padded_past_its_models_limit():
    long_source, long_target = random_pairs(40, longest=30)
    short_source = np.pad(np.full((40, 5), 9, np.int32), ((0, 0), (0, 1)), constant_values=END_ID)
    short_target = np.full((40, 5), 9, np.int32)
    # A bucket is as long as its longest side; the other side stops at its own limit.
    for source, target, limits in ((long_source, short_target, (30, 6)), (short_source, long_target, (6, 30))):
        batches = LengthBatches(source, target, 512, max_source_length=limits[0], max_target_length=limits[1])
        assert batches.bucket_lengths[-1] > 6
        for inputs, labels, _ in (batches[i] for i in range(len(batches))):
            assert inputs["encoder_inputs"].shape[1] <= limits[0]
            assert inputs["decoder_inputs"].shape == labels.shape and labels.shape[1] <= limits[1]
