"""Greedy decoding: one loop with static shapes, for evaluation and every export."""

import keras
import numpy as np
from keras import ops

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
    max_length = max_length or model.max_target_length
    if not 1 <= max_length <= model.max_target_length:
        raise ValueError(
            f"`max_length` must be between 1 and the model's max_target_length "
            f"({model.max_target_length}). Received: max_length={max_length}"
        )
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


def make_greedy_decoder(model, max_length=None, use_cache=True):
    """`greedy_decode` compiled for the Keras backend: NumPy source ids in, NumPy ids out.

    It compiles once per input shape (`jax.jit`, or a `tf.function` graph);
    other backends run it eagerly. On JAX the weights are arguments of the
    compiled function, read through a `keras.StatelessScope` as keras-hub's
    `generate` does, not constants folded into it.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        def decode(values, source_ids):
            with keras.StatelessScope(state_mapping=list(zip(model.variables, values))):
                return greedy_decode(model, source_ids, max_length, use_cache)

        compiled = jax.jit(decode)
        return lambda source_ids: np.asarray(compiled([v.value for v in model.variables], source_ids))
    if backend == "tensorflow":
        import tensorflow as tf

        compiled = tf.function(lambda source_ids: greedy_decode(model, source_ids, max_length, use_cache))
        return lambda source_ids: compiled(tf.constant(source_ids)).numpy()
    return lambda source_ids: ops.convert_to_numpy(greedy_decode(model, source_ids, max_length, use_cache))
