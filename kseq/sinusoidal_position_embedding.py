"""SinusoidalPositionEmbedding: fixed sine and cosine positions, in Marian's layout."""

import keras
import numpy as np
from keras import ops


def sinusoidal_table(num_positions, dim):
    """(num_positions, dim) float32: sines in the first half of each row, cosines in the second.

    The table of Hugging Face's `MarianSinusoidalPositionalEmbedding` (XLM's
    formula, not interleaved): column j of the half holds position
    `p / 10000 ** (2 * j / dim)`. Computed in float64, as there, then rounded.
    """
    angles = np.arange(num_positions)[:, None] / np.power(10000, 2 * (np.arange(dim) // 2) / dim)[None, :]
    return np.concatenate([np.sin(angles[:, 0::2]), np.cos(angles[:, 1::2])], axis=1).astype("float32")


@keras.saving.register_keras_serializable(package="kseq")
class SinusoidalPositionEmbedding(keras.layers.Layer):
    """Position embeddings that are not learned: `sinusoidal_table`, held as a frozen weight.

    Called like `keras_hub.layers.PositionEmbedding`: given inputs (batch, steps,
    dim), returns the positions `start_index` ... `start_index + steps - 1`,
    broadcast to the inputs' shape. The table is a non-trainable weight, so
    the exports freeze it into a constant like any other weight.

    Args:
        sequence_length: int. The most positions.

    Example:
    >>> positions = SinusoidalPositionEmbedding(64)
    >>> x = x + positions(x, start_index=index)
    """

    def __init__(self, sequence_length, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = sequence_length

    def build(self, inputs_shape):
        dim = inputs_shape[-1]
        self.position_embeddings = self.add_weight(
            name="embeddings", shape=(self.sequence_length, dim), trainable=False,
            initializer=keras.initializers.Constant(sinusoidal_table(self.sequence_length, dim)),
        )
        super().build(inputs_shape)

    def call(self, inputs, start_index=0):
        shape = ops.shape(inputs)
        positions = ops.slice(self.position_embeddings, (start_index, 0), (shape[-2], shape[-1]))
        return ops.broadcast_to(ops.cast(positions, self.compute_dtype), shape)

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length}
