"""Greedy and beam search: loops with static shapes, for evaluation and every export.

`kseq.decoding_strategy` names which one a caller decodes with.
"""

import keras
import numpy as np
from keras import ops, tree

from kseq.errors import UsageError
from kseq.special_ids import END_ID, PAD_ID, START_ID


def greedy_search(step, cache, batch_size, max_length):
    """Greedy search over a step function, as in keras-hub's samplers.

    `step(token, cache, index) -> (logits, cache)` gets the token at position
    `index`, (batch, 1), and returns the next token's logits, (batch, vocab).
    The loop runs at most `max_length` steps over a fixed (batch, max_length + 1)
    buffer and stops as soon as every row has produced the end id.

    Returns:
        int32 ids (batch, max_length): the tokens after the start id, the end
        id kept, padding (0) after it.
    """
    tokens = ops.concatenate(
        [ops.full((batch_size, 1), START_ID, dtype="int32"),
         ops.full((batch_size, max_length), PAD_ID, dtype="int32")],
        axis=1,
    )
    done = ops.zeros((batch_size,), dtype="bool")

    def not_finished(index, tokens, cache, done):
        return ops.logical_and(index < max_length, ops.logical_not(ops.all(done)))

    def advance(index, tokens, cache, done):
        token = ops.slice(tokens, (0, index), (batch_size, 1))
        logits, cache = step(token, cache, index)
        # top_k, not argmax: Keras' TF argmax adds a negative-zero fix made of
        # BitwiseAnd, which TFLite has no builtin kernel for. Ties go to the
        # lowest id either way.
        next_token = ops.cast(ops.top_k(logits, k=1)[1][:, 0], "int32")
        next_token = ops.where(done, PAD_ID, next_token)
        tokens = ops.slice_update(tokens, (0, index + 1), next_token[:, None])
        done = ops.logical_or(done, ops.equal(next_token, END_ID))
        return index + 1, tokens, cache, done

    index = ops.convert_to_tensor(0, dtype="int32")
    _, tokens, _, _ = ops.while_loop(
        not_finished, advance, (index, tokens, cache, done), maximum_iterations=max_length
    )
    return tokens[:, 1:]


def greedy_decode(model, source_ids, max_length=None, use_cache=True):
    """Translates a batch of source ids (batch, steps) with a `Seq2SeqTransformer`.

    With `use_cache=False` every step re-runs the decoder over the whole
    prefix: the slow reference that the cached path must match exactly.
    """
    max_length = _check_max_length(model, max_length)
    batch_size = ops.shape(source_ids)[0]
    encoder_outputs, encoder_padding_mask = model.encode(source_ids)

    if use_cache:
        cache, cross_caches = model.decoder_cache(encoder_outputs, max_length)

        def step(token, cache, index):
            return model.decode_step(
                token, index, cache, cross_caches, encoder_outputs, encoder_padding_mask
            )
    else:
        cache = ops.zeros((batch_size, max_length), dtype="int32")  # the prefix so far

        def step(token, prefix, index):
            prefix = ops.slice_update(prefix, (0, index), token)
            logits = model.decode(prefix, encoder_outputs, encoder_padding_mask)
            return ops.take(logits, index, axis=1), prefix

    return greedy_search(step, cache, batch_size, max_length)


def _check_max_length(model, max_length):
    max_length = max_length or model.max_target_length
    if not 1 <= max_length <= model.max_target_length:
        raise UsageError(
            f"`max_length` must be between 1 and the model's max_target_length "
            f"({model.max_target_length}). Received: max_length={max_length}"
        )
    return max_length


def beam_search(step, cache, batch_size, max_length, beam_width=4, length_penalty=0.6):
    """Beam search over a step function, in `greedy_search`'s shape (keras-hub's `BeamSampler` API).

    The rows are `batch_size * beam_width` hypotheses, beam by beam within
    each batch row: `step(token, cache, index)` gets tokens (batch * beam, 1)
    and a cache of that many rows, returns logits (batch * beam, vocab), and
    the cache's rows are reordered after each step to follow the surviving
    hypotheses. A finished hypothesis (one that produced the end id) keeps its
    score and grows only padding. The loop stops when every hypothesis has
    finished, or after `max_length` steps. Each row's best hypothesis is the
    one with the highest log-probability divided by GNMT's length penalty,
    `((5 + length) / 6) ** length_penalty`.

    Returns:
        int32 ids (batch, max_length), as `greedy_search`. With
        `beam_width=1` they are greedy's.
    """
    if beam_width < 1:
        raise UsageError(f"`beam_width` must be at least 1. Received: beam_width={beam_width}")
    rows = batch_size * beam_width
    tokens = ops.concatenate(
        [ops.full((rows, 1), START_ID, dtype="int32"), ops.full((rows, max_length), PAD_ID, dtype="int32")],
        axis=1,
    )
    # Only the first beam of each row is alive at first: the others would repeat it.
    scores = ops.tile(ops.convert_to_tensor([[0.0] + [-1e9] * (beam_width - 1)]), (batch_size, 1))
    done = ops.zeros((rows,), dtype="bool")
    row_offsets = ops.repeat(ops.arange(batch_size, dtype="int32") * beam_width, beam_width)

    def not_finished(index, tokens, cache, scores, done):
        return ops.logical_and(index < max_length, ops.logical_not(ops.all(done)))

    def advance(index, tokens, cache, scores, done):
        token = ops.slice(tokens, (0, index), (rows, 1))
        logits, cache = step(token, cache, index)
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)  # (rows, vocab)
        vocabulary = ops.shape(log_probs)[-1]
        # A finished hypothesis can only grow padding, at no cost.
        padding_only = ops.where(ops.arange(vocabulary) == PAD_ID, 0.0, -1e9)
        log_probs = ops.where(done[:, None], padding_only[None, :], log_probs)
        candidates = ops.reshape(scores, (rows, 1)) + log_probs
        candidates = ops.reshape(candidates, (batch_size, beam_width * vocabulary))
        # top_k, not argmax: TFLite has builtin kernels for it. Ties go to the lowest index.
        scores, chosen = ops.top_k(candidates, k=beam_width)  # (batch, beam)
        chosen = ops.cast(chosen, "int32")
        origin = ops.reshape(chosen // vocabulary, (rows,)) + row_offsets
        next_token = ops.reshape(chosen % vocabulary, (rows,))
        cache = tree.map_structure(lambda x: ops.take(x, origin, axis=0), cache)
        tokens = ops.slice_update(ops.take(tokens, origin, axis=0), (0, index + 1), next_token[:, None])
        done = ops.logical_or(ops.take(done, origin, axis=0), ops.equal(next_token, END_ID))
        return index + 1, tokens, cache, scores, done

    index = ops.convert_to_tensor(0, dtype="int32")
    _, tokens, _, scores, _ = ops.while_loop(
        not_finished, advance, (index, tokens, cache, scores, done), maximum_iterations=max_length
    )
    tokens = ops.reshape(tokens[:, 1:], (batch_size, beam_width, max_length))
    lengths = ops.cast(ops.sum(ops.cast(tokens != PAD_ID, "int32"), axis=-1), "float32")
    normalized = scores / ops.power((5.0 + lengths) / 6.0, length_penalty)
    best = ops.cast(ops.top_k(normalized, k=1)[1][:, 0], "int32")  # (batch,); top_k: see above
    return ops.take_along_axis(tokens, best[:, None, None], axis=1)[:, 0, :]


def beam_decode(model, source_ids, beam_width=4, length_penalty=0.6, max_length=None):
    """Translates a batch of source ids (batch, steps) with beam search and the model's cache."""
    max_length = _check_max_length(model, max_length)
    batch_size = ops.shape(source_ids)[0]
    encoder_outputs, encoder_padding_mask = model.encode(source_ids)
    # Every hypothesis of a row reads the same source: repeat it beam_width times.
    encoder_outputs = ops.repeat(encoder_outputs, beam_width, axis=0)
    encoder_padding_mask = ops.repeat(encoder_padding_mask, beam_width, axis=0)
    cache, cross_caches = model.decoder_cache(encoder_outputs, max_length)

    def step(token, cache, index):
        return model.decode_step(token, index, cache, cross_caches, encoder_outputs, encoder_padding_mask)

    return beam_search(step, cache, batch_size, max_length, beam_width, length_penalty)


def make_decoder(model, decoding, max_length=None):
    """`decoding.decode` (a `kseq.decoding_strategy`: `Greedy()` or `Beam(...)`) compiled
    for the Keras backend: NumPy source ids in, NumPy ids out.

    It compiles once per input shape (`jax.jit`, or a `tf.function` graph);
    other backends run it eagerly. On JAX the weights are arguments of the
    compiled function, read through a `keras.StatelessScope` as keras-hub's
    `generate` does, not constants folded into it.
    """
    backend = keras.backend.backend()

    def run(source_ids):
        return decoding.decode(model, source_ids, max_length)

    if backend == "jax":
        import jax

        def decode(values, source_ids):
            with keras.StatelessScope(state_mapping=list(zip(model.variables, values))):
                return run(source_ids)

        compiled = jax.jit(decode)
        return lambda source_ids: np.asarray(compiled([v.value for v in model.variables], source_ids))
    if backend == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(run)
        return lambda source_ids: compiled(tf.constant(source_ids)).numpy()
    return lambda source_ids: ops.convert_to_numpy(run(source_ids))
