"""Cross-attention of the last decoder layer over a greedy translation."""

import numpy as np
from keras import ops

from kseq.decoding import greedy_decode
from kseq.library_internals import transformer_layer_parts
from kseq.special_ids import END_ID, PAD_ID, START_ID


def cross_attention(model, source_ids):
    """Translates one source and returns where the last decoder layer looked.

    Args:
        model: a `Seq2SeqTransformer`.
        source_ids: int32 (1, steps), ending with the end id.

    Returns:
        (output_ids, weights): the greedy output ids up to and including the
        end id, and the cross-attention weights averaged over heads,
        (output steps, source steps).
    """
    output_ids = np.asarray(greedy_decode(model, source_ids))[0]
    ends = np.flatnonzero(output_ids == END_ID)
    output_ids = output_ids[: ends[0] + 1 if len(ends) else len(output_ids)]
    decoder_ids = np.concatenate([[START_ID], output_ids[:-1]])[None].astype("int32")

    encoder_outputs, encoder_padding_mask = model.encode(source_ids)
    x = model.embed_target(decoder_ids)
    for layer in model.decoder_layers[:-1]:
        x = layer(x, encoder_outputs, encoder_padding_mask=encoder_padding_mask, training=False)
    # keras-hub's TransformerDecoder does not return attention scores: the
    # last layer's self-attention block is replayed from its parts (pre-norm,
    # as in its `call`, with the same causal and padding mask) and its
    # cross-attention asked for scores. Pinned by tests/test_cross_attention.py,
    # which checks the replay against the layer's own greedy decoding.
    last = transformer_layer_parts(model.decoder_layers[-1])
    steps = decoder_ids.shape[1]
    causal = np.tril(np.ones((1, steps, steps), bool))
    self_mask = ops.logical_and(ops.expand_dims(ops.not_equal(decoder_ids, PAD_ID), axis=1), causal)
    normed = last.self_attention_norm(x)
    x = x + last.self_attention(query=normed, value=normed, attention_mask=self_mask, training=False)
    _, scores = last.cross_attention(
        query=last.cross_attention_norm(x), value=encoder_outputs,
        attention_mask=ops.expand_dims(encoder_padding_mask, axis=1),
        return_attention_scores=True, training=False,
    )
    # scores: (batch, heads, output steps, source steps)
    return output_ids, np.asarray(ops.mean(scores, axis=1))[0]
