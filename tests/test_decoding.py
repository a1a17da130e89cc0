import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kseq.decoding import beam_decode, beam_search, greedy_decode, greedy_search, make_decoder
from kseq.decoding_strategy import Beam, Greedy, decoding_strategy
from kseq.model import Seq2SeqTransformer
from kseq.special_ids import END_ID, PAD_ID, START_ID

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


# --- Beam search ---

# Probabilities of the next token given the last one, for a fake step: greedy
# takes 5 (0.6), then can only end at 0.4 (0.24 in all); 6 (0.4) ends at 0.95 (0.38).
TRANSITIONS = {START_ID: {5: 0.6, 6: 0.4}, 5: {END_ID: 0.4, 7: 0.3, 8: 0.3}, 6: {END_ID: 0.95, 7: 0.05},
               7: {END_ID: 1.0}, 8: {END_ID: 1.0}}


def transition_step(transitions_per_row):
    """A fake step: row r's next-token log-probabilities given the last token, from its table.

    The cache holds each hypothesis's batch row, so it also checks that beams
    stay with their row when the search reorders them.
    """
    tables = np.full((len(transitions_per_row), VOCAB, VOCAB), -30.0, "float32")
    for r, transitions in enumerate(transitions_per_row):
        tables[r, :, PAD_ID] = 0.0  # any token not in the table: end of the road
        for last, nexts in transitions.items():
            tables[r, last] = -30.0
            for token, p in nexts.items():
                tables[r, last, token] = np.log(p)
    tables = ops.convert_to_tensor(tables)

    def step(token, cache, index):
        logits = ops.take_along_axis(ops.take(tables, cache[:, 0], axis=0),
                                     ops.reshape(token, (-1, 1, 1)) * ops.ones((1, 1, VOCAB), "int32"), axis=1)
        return logits[:, 0, :], cache

    return step


def beam_rows(count, beam_width):
    return ops.repeat(ops.arange(count, dtype="int32"), beam_width)[:, None]


def test_beam_finds_the_better_sequence_greedy_misses():
    step = transition_step([TRANSITIONS])
    greedy = greedy_search(lambda t, c, i: (step(t, beam_rows(1, 1), i)[0], c), (), batch_size=1, max_length=4)
    np.testing.assert_array_equal(greedy, [[5, END_ID, PAD_ID, PAD_ID]])
    beam = beam_search(step, beam_rows(1, 2), batch_size=1, max_length=4, beam_width=2, length_penalty=0.0)
    np.testing.assert_array_equal(beam, [[6, END_ID, PAD_ID, PAD_ID]])


def test_batch_rows_are_independent():
    other = {START_ID: {7: 0.9, 8: 0.1}, 7: {8: 0.7, END_ID: 0.3}, 8: {END_ID: 1.0}}
    together = beam_search(transition_step([TRANSITIONS, other]), beam_rows(2, 3), batch_size=2,
                           max_length=5, beam_width=3)
    for row, transitions in enumerate((TRANSITIONS, other)):
        alone = beam_search(transition_step([transitions]), beam_rows(1, 3), batch_size=1, max_length=5,
                            beam_width=3)
        np.testing.assert_array_equal(np.asarray(together)[row], np.asarray(alone)[0])


def test_length_penalty_ranks_by_score_per_length():
    # One short hypothesis (END at 0.5) against a longer one (0.45 * 1 * 1): raw scores prefer the
    # short one, a strong length penalty the long one.
    transitions = {START_ID: {END_ID: 0.5, 5: 0.45, 6: 0.05}, 5: {7: 1.0}, 7: {END_ID: 1.0}}
    step = transition_step([transitions])
    raw = beam_search(step, beam_rows(1, 2), batch_size=1, max_length=4, beam_width=2, length_penalty=0.0)
    long = beam_search(step, beam_rows(1, 2), batch_size=1, max_length=4, beam_width=2, length_penalty=2.0)
    np.testing.assert_array_equal(raw, [[END_ID, PAD_ID, PAD_ID, PAD_ID]])
    np.testing.assert_array_equal(long, [[5, 7, END_ID, PAD_ID]])


def test_beam_width_1_gives_exactly_the_greedy_ids(model):
    np.testing.assert_array_equal(beam_decode(model, SOURCE, beam_width=1, max_length=9),
                                  greedy_decode(model, SOURCE, max_length=9))


def test_beam_decoding_runs_in_a_graph_and_batches_like_one_row(model):
    decode = tf.function(lambda source: beam_decode(model, source, beam_width=3, max_length=9),
                         input_signature=[tf.TensorSpec([None, None], tf.int32)])
    batched = np.asarray(decode(SOURCE))
    np.testing.assert_array_equal(batched, beam_decode(model, SOURCE, beam_width=3, max_length=9))
    for row, expected in zip(SOURCE, batched):
        np.testing.assert_array_equal(
            np.asarray(beam_decode(model, row[None, : int((row != 0).sum())], beam_width=3, max_length=9))[0],
            expected)
    with pytest.raises(ValueError, match="beam_width"):
        beam_decode(model, SOURCE, beam_width=0)


# --- The strategy that names greedy or beam once ---


def test_the_beam_width_flag_becomes_a_strategy_in_one_place():
    assert decoding_strategy() == Greedy() and decoding_strategy(1, length_penalty=2.0) == Greedy()
    assert decoding_strategy(4) == Beam(width=4, length_penalty=0.6)
    assert decoding_strategy(2, length_penalty=0.0) == Beam(width=2, length_penalty=0.0)
    for width in (0, -3):
        with pytest.raises(ValueError, match=f"--beam-width must be at least 1. Received: {width}"):
            decoding_strategy(width)
    # The SavedModel signatures each strategy is served by: the export's contract.
    assert (Greedy.signature, Beam.signature) == ("serving_default", "translate_beam")
    assert (Greedy().width, Beam(3).width) == (1, 3)


def test_strategies_decode_as_the_search_they_name(model):
    np.testing.assert_array_equal(Greedy().decode(model, SOURCE, 9), greedy_decode(model, SOURCE, max_length=9))
    np.testing.assert_array_equal(Greedy(use_cache=False).decode(model, SOURCE, 9),
                                  greedy_decode(model, SOURCE, max_length=9, use_cache=False))
    np.testing.assert_array_equal(Beam(3, 0.0).decode(model, SOURCE, 9),
                                  beam_decode(model, SOURCE, beam_width=3, length_penalty=0.0, max_length=9))
    assert np.asarray(Beam(2).decode(model, SOURCE)).shape == (3, model.max_target_length)


def test_make_decoder_compiles_the_strategy_it_is_given(model):
    for decoding in (Greedy(), Beam(3)):
        compiled = make_decoder(model, decoding, max_length=9)
        np.testing.assert_array_equal(compiled(SOURCE), decoding.decode(model, SOURCE, 9))
