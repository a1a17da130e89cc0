import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kseq.decoding import greedy_decode, greedy_search
from kseq.model import Seq2SeqTransformer
from kseq.tokenizer import END_ID, PAD_ID, START_ID

VOCAB = 12


def scripted_step(script, calls):
    """A fake step whose next token for row r at position i is script[r][i]."""
    script = np.array(script, "int32")

    def step(token, cache, index):
        calls.append(int(index))
        next_ids = script[:, int(index)]
        return ops.one_hot(next_ids, VOCAB) * 10.0, cache

    return step


def test_stops_when_every_row_ended_and_pads_after_end():
    calls = []
    script = [[5, 6, END_ID, 7, 7, 7, 7, 7], [8, END_ID, 9, 9, 9, 9, 9, 9]]
    ids = greedy_search(scripted_step(script, calls), (), batch_size=2, max_length=8)
    np.testing.assert_array_equal(
        ids, [[5, 6, END_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID],
              [8, END_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID]])
    assert calls == [0, 1, 2]  # stopped after the last row produced the end id


def test_is_bounded_by_max_length():
    calls = []
    ids = greedy_search(scripted_step([[5] * 6], calls), (), batch_size=1, max_length=4)
    np.testing.assert_array_equal(ids, [[5, 5, 5, 5]])
    assert calls == [0, 1, 2, 3]


def test_step_receives_the_previous_token():
    seen = []

    def step(token, cache, index):
        seen.append(int(token[0, 0]))
        return ops.one_hot([int(index) + 5], VOCAB) * 1.0, cache

    greedy_search(step, (), batch_size=1, max_length=3)
    assert seen == [START_ID, 5, 6]


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(3)
    return Seq2SeqTransformer(vocabulary_size=VOCAB + 20, num_encoder_layers=2,
                              num_decoder_layers=2, hidden_dim=16, num_heads=2,
                              intermediate_dim=32, dropout=0.0, max_source_length=10,
                              max_target_length=9)


SOURCE = np.array([[5, 6, 7, 8, END_ID], [9, 10, END_ID, 0, 0], [11, END_ID, 0, 0, 0]], "int32")


def naive_greedy(model, source, max_length):
    """Eager argmax loop over the full forward pass: the obvious reference."""
    results = []
    for row in source:
        row = row[None, : int((row != 0).sum())]
        prefix = [START_ID]
        for _ in range(max_length):
            logits = model({"encoder_inputs": row, "decoder_inputs": np.array([prefix], "int32")})
            prefix.append(int(np.argmax(logits[0, -1])))
            if prefix[-1] == END_ID:
                break
        results.append(prefix[1:] + [PAD_ID] * (max_length + 1 - len(prefix)))
    return np.array(results)


def test_cached_uncached_and_naive_decoding_agree(model):
    cached = greedy_decode(model, SOURCE, max_length=9)
    uncached = greedy_decode(model, SOURCE, max_length=9, use_cache=False)
    np.testing.assert_array_equal(cached, uncached)
    np.testing.assert_array_equal(cached, naive_greedy(model, SOURCE, 9))


def test_cached_step_logits_equal_the_forward_pass(model):
    decoder_ids = np.array([[START_ID, 5, 9, 13, 4, 6]] * 3, "int32")
    full = np.asarray(model({"encoder_inputs": SOURCE, "decoder_inputs": decoder_ids}))
    encoder_outputs, mask = model.encode(SOURCE)
    cache, cross = model.decoder_cache(encoder_outputs, max_length=9)
    for index in range(decoder_ids.shape[1]):
        logits, cache = model.decode_step(decoder_ids[:, index : index + 1], index, cache,
                                          cross, encoder_outputs, mask)
        np.testing.assert_allclose(np.asarray(logits), full[:, index], atol=1e-5)


def test_batch_decoding_equals_one_row_at_a_time(model):
    batched = np.asarray(greedy_decode(model, SOURCE, max_length=6))
    for row, expected in zip(SOURCE, batched):
        single = greedy_decode(model, row[None, : int((row != 0).sum())], max_length=6)
        np.testing.assert_array_equal(np.asarray(single)[0], expected)


def test_runs_in_a_graph_with_unknown_batch_and_length(model):
    decode = tf.function(
        lambda source: greedy_decode(model, source, max_length=9),
        input_signature=[tf.TensorSpec([None, None], tf.int32)],
    )
    np.testing.assert_array_equal(decode(SOURCE), greedy_decode(model, SOURCE, max_length=9))


def test_max_length_beyond_the_model_is_refused(model):
    with pytest.raises(ValueError, match="max_length"):
        greedy_decode(model, SOURCE, max_length=10)
