"""Seq2SeqTransformer: a Transformer encoder-decoder from keras-hub layers."""

import contextlib
import math

import keras
import keras_hub
import numpy as np
from keras import ops

from kseq.errors import UsageError
from kseq.library_internals import set_attention_dropout
from kseq.sinusoidal_position_embedding import SinusoidalPositionEmbedding
from kseq.special_ids import PAD_ID

POSITION_EMBEDDINGS = ("learned", "sinusoidal")


def silu(x):
    """x * sigmoid(x), written out. Keras' "silu" is TensorFlow's `tf.nn.silu`, whose custom
    gradient captures a `beta` tensor that the SavedModel (and so the TFLite converter) refuses."""
    return x * ops.sigmoid(x)


ACTIVATIONS = {"silu": silu, "swish": silu}
SUPPRESSED_LOGIT = -1e9


@keras.saving.register_keras_serializable(package="kseq")
class Seq2SeqTransformer(keras.Model):
    """A Transformer encoder-decoder: pre-layer-norm by default, or post-layer-norm as Marian.

    The functional forward pass (`call`) serves `fit()`: token ids in, next
    token logits out. Generation uses the same layers through `encode()`,
    `decoder_cache()` and `decode_step()` (see `kseq.decoding`).

    Args:
        vocabulary_size: int. Target vocabulary size (the joint one by default).
        source_vocabulary_size: int or None. A separate source vocabulary;
            None shares the target's token embedding with the encoder.
        num_encoder_layers: int. Number of `TransformerEncoder` layers.
        num_decoder_layers: int. Number of `TransformerDecoder` layers.
        hidden_dim: int. Model width; each head has `hidden_dim // num_heads`.
        num_heads: int. Attention heads; must divide `hidden_dim`.
        intermediate_dim: int. Feed-forward width.
        dropout: float. Dropout on the embeddings and on each block's
            output before the residual sum.
        attention_dropout: float. Dropout on the attention weights. At 0
            (the default) Keras computes attention with
            `ops.dot_product_attention`, fused kernels (and flash attention
            where `keras.config.enable_flash_attention()` asks for it).
        max_source_length: int. Longest source, in tokens (end id included).
        max_target_length: int. Longest decoder input (start id included).
        tie_embeddings: bool. Output projection shares the target embedding.
        normalize_first: bool. True (kseq's own models): layer norm before each
            block, and a final norm after each stack. False: after each block's
            residual sum and no final norm (Marian, BART: `kseq.marian`).
        activation: str. The feed-forward activation ("gelu"; Marian: "silu").
        position_embedding: str. "learned" (keras-hub's `PositionEmbedding`)
            or "sinusoidal" (fixed, Marian's layout: `SinusoidalPositionEmbedding`).
        scale_embeddings: bool. Token embeddings times sqrt(hidden_dim).
        logits_bias: bool. A learned bias added to the logits (Marian's
            `final_logits_bias`).
        suppressed_ids: list of ints or None. Ids that generation never
            produces: `decode()` and `decode_step()` give them a logit of
            -1e9. The forward pass for `fit()` keeps their logits as they are.

    Example:
    >>> model = Seq2SeqTransformer(vocabulary_size=1000, hidden_dim=64, num_heads=4)
    >>> logits = model({"encoder_inputs": source_ids, "decoder_inputs": decoder_ids})
    """

    def __init__(
        self,
        vocabulary_size,
        source_vocabulary_size=None,
        num_encoder_layers=3,
        num_decoder_layers=3,
        hidden_dim=256,
        num_heads=4,
        intermediate_dim=1024,
        dropout=0.1,
        attention_dropout=0.0,
        max_source_length=64,
        max_target_length=64,
        tie_embeddings=True,
        normalize_first=True,
        activation="gelu",
        position_embedding="learned",
        scale_embeddings=True,
        logits_bias=False,
        suppressed_ids=None,
        **kwargs,
    ):
        if hidden_dim % num_heads:
            raise UsageError(
                "`num_heads` must divide `hidden_dim`. Received: "
                f"hidden_dim={hidden_dim}, num_heads={num_heads}"
            )
        for name, value in (("max_source_length", max_source_length),
                            ("max_target_length", max_target_length)):
            if value < 2:
                raise UsageError(f"`{name}` must be at least 2. Received: {name}={value}")
        if position_embedding not in POSITION_EMBEDDINGS:
            raise UsageError(f"`position_embedding` must be one of {POSITION_EMBEDDINGS}. "
                             f"Received: position_embedding={position_embedding!r}")

        # === Layers ===
        self.target_embedding = keras_hub.layers.ReversibleEmbedding(
            vocabulary_size, hidden_dim, tie_weights=tie_embeddings, name="target_embedding"
        )
        if source_vocabulary_size is None:
            self.source_embedding = self.target_embedding
        else:
            self.source_embedding = keras.layers.Embedding(
                source_vocabulary_size, hidden_dim, name="source_embedding"
            )
        positions = (keras_hub.layers.PositionEmbedding if position_embedding == "learned"
                     else SinusoidalPositionEmbedding)
        self.source_position_embedding = positions(max_source_length, name="source_position_embedding")
        self.target_position_embedding = positions(max_target_length, name="target_position_embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        self.encoder_layers = [
            keras_hub.layers.TransformerEncoder(
                # The larger rate, so that every dropout layer gets its random
                # seed when built; each then gets its own rate below.
                intermediate_dim, num_heads, dropout=max(dropout, attention_dropout),
                activation=ACTIVATIONS.get(activation, activation),
                normalize_first=normalize_first, name=f"encoder_layer_{i}",
            )
            for i in range(num_encoder_layers)
        ]
        # Post-norm stacks end normalized: no final norm.
        self.encoder_norm = (keras.layers.LayerNormalization(epsilon=1e-5, name="encoder_norm")
                             if normalize_first else keras.layers.Identity(name="encoder_norm"))
        self.decoder_layers = [
            keras_hub.layers.TransformerDecoder(
                intermediate_dim, num_heads, dropout=max(dropout, attention_dropout),
                activation=ACTIVATIONS.get(activation, activation),
                normalize_first=normalize_first, name=f"decoder_layer_{i}",
            )
            for i in range(num_decoder_layers)
        ]
        self.decoder_norm = (keras.layers.LayerNormalization(epsilon=1e-5, name="decoder_norm")
                             if normalize_first else keras.layers.Identity(name="decoder_norm"))
        self.logits_bias_layer = LogitsBias(name="logits_bias") if logits_bias else None
        self._suppressed = None
        if suppressed_ids:
            suppressed = np.zeros((vocabulary_size,), bool)
            suppressed[list(suppressed_ids)] = True
            self._suppressed = suppressed

        # === Functional model ===
        encoder_inputs = keras.Input((None,), dtype="int32", name="encoder_inputs")
        decoder_inputs = keras.Input((None,), dtype="int32", name="decoder_inputs")
        self._embedding_scale = math.sqrt(hidden_dim) if scale_embeddings else 1.0
        encoder_outputs, encoder_padding_mask = self._encode(encoder_inputs)
        logits = self._decode(decoder_inputs, encoder_outputs, encoder_padding_mask)
        super().__init__(
            inputs={"encoder_inputs": encoder_inputs, "decoder_inputs": decoder_inputs},
            outputs=logits,
            **kwargs,
        )
        for layer in self.encoder_layers + self.decoder_layers:
            _configure_attention(layer, dropout, attention_dropout)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.source_vocabulary_size = source_vocabulary_size
        self.num_encoder_layers = num_encoder_layers
        self.num_decoder_layers = num_decoder_layers
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.max_source_length = max_source_length
        self.max_target_length = max_target_length
        self.tie_embeddings = tie_embeddings
        self.normalize_first = normalize_first
        self.activation = activation
        self.position_embedding = position_embedding
        self.scale_embeddings = scale_embeddings
        self.logits_bias = logits_bias
        self.suppressed_ids = sorted(int(i) for i in suppressed_ids) if suppressed_ids else None

    # --- Shared pieces of the forward pass and of generation ---

    def _embed(self, ids, token_embedding, position_embedding, start_index=0, training=None):
        x = token_embedding(ids) * self._embedding_scale
        x = x + position_embedding(x, start_index=start_index)
        return self.embedding_dropout(x, training=training)

    def _encode(self, source_ids, training=None):
        padding_mask = ops.not_equal(source_ids, PAD_ID)
        x = self._embed(source_ids, self.source_embedding, self.source_position_embedding,
                        training=training)
        for layer in self.encoder_layers:
            x = layer(x, padding_mask=padding_mask, training=training)
        return self.encoder_norm(x), padding_mask

    def _decode(self, decoder_ids, encoder_outputs, encoder_padding_mask, training=None):
        x = self._embed(decoder_ids, self.target_embedding, self.target_position_embedding,
                        training=training)
        for layer in self.decoder_layers:
            x = layer(
                x, encoder_outputs,
                decoder_padding_mask=ops.not_equal(decoder_ids, PAD_ID),
                encoder_padding_mask=encoder_padding_mask,
                training=training,
            )
        return self._logits(x)

    def _logits(self, x):
        # In float32 whatever the dtype policy: softmax and loss need its range.
        logits = ops.cast(self.target_embedding(self.decoder_norm(x), reverse=True), "float32")
        if self.logits_bias_layer is not None:
            logits = self.logits_bias_layer(logits)
        return logits

    def _generation_logits(self, logits):
        """The logits generation chooses from: `suppressed_ids` never win."""
        if self._suppressed is None:
            return logits
        return ops.where(ops.convert_to_tensor(self._suppressed), SUPPRESSED_LOGIT, logits)

    # --- Generation ---

    def encode(self, source_ids):
        """Returns `(encoder_outputs, encoder_padding_mask)` for inference."""
        return self._encode(source_ids, training=False)

    def decode(self, decoder_ids, encoder_outputs, encoder_padding_mask):
        """Logits for every decoder position, without a cache: (batch, steps, vocab)."""
        return self._generation_logits(
            self._decode(decoder_ids, encoder_outputs, encoder_padding_mask, training=False))

    def decoder_cache(self, encoder_outputs, max_length):
        """Returns `(self_attention_caches, cross_attention_caches)`, one per layer.

        Self-attention caches are zeros of a fixed size,
        (batch, 2, max_length, heads, head_dim), filled as decoding goes.
        Cross-attention keys and values depend only on the encoder outputs, so
        they are computed once here, (batch, 2, source steps, heads, head_dim).
        """
        batch, source_steps = ops.shape(encoder_outputs)[0], ops.shape(encoder_outputs)[1]
        head_dim = self.hidden_dim // self.num_heads
        dtype = encoder_outputs.dtype
        self_caches = tuple(ops.zeros((batch, 2, max_length, self.num_heads, head_dim), dtype=dtype)
                            for _ in self.decoder_layers)
        # Seeded through the layer's public call, as keras-hub's seq2seq models
        # (BART) do: with `cross_attention_cache_update_index=0` it projects the
        # encoder outputs into the cache. The one-position probe's output is unused.
        probe = ops.zeros((batch, 1, self.hidden_dim), dtype=dtype)
        cross_caches = []
        for layer in self.decoder_layers:
            _, _, cross_cache = layer(
                probe, encoder_outputs,
                self_attention_cache=ops.zeros((batch, 2, 1, self.num_heads, head_dim), dtype=dtype),
                self_attention_cache_update_index=0,
                cross_attention_cache=ops.zeros((batch, 2, source_steps, self.num_heads, head_dim), dtype=dtype),
                cross_attention_cache_update_index=0,
                training=False,
            )
            cross_caches.append(cross_cache)
        return self_caches, tuple(cross_caches)

    def embed_target(self, ids, start_index=0):
        """Decoder inputs for inference: scaled token embeddings plus positions from `start_index`."""
        return self._embed(ids, self.target_embedding, self.target_position_embedding,
                           start_index=start_index, training=False)

    def decode_step(self, token, index, self_caches, cross_caches, encoder_outputs,
                    encoder_padding_mask):
        """One cached step: token (batch, 1) at position `index`.

        Returns `(logits, self_caches)`: logits (batch, vocab) for the next
        token, and the self-attention caches with this position written in.
        """
        x = self.embed_target(token, start_index=index)
        updated = []
        for layer, self_cache, cross_cache in zip(self.decoder_layers, self_caches, cross_caches):
            x, self_cache, _ = layer(
                x, encoder_outputs,
                encoder_padding_mask=encoder_padding_mask,
                self_attention_cache=self_cache,
                self_attention_cache_update_index=index,
                cross_attention_cache=cross_cache,
                training=False,
            )
            updated.append(self_cache)
        return self._generation_logits(self._logits(x)[:, 0, :]), tuple(updated)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size,
            "source_vocabulary_size": self.source_vocabulary_size,
            "num_encoder_layers": self.num_encoder_layers,
            "num_decoder_layers": self.num_decoder_layers,
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "max_source_length": self.max_source_length,
            "max_target_length": self.max_target_length,
            "tie_embeddings": self.tie_embeddings,
            "normalize_first": self.normalize_first,
            "activation": self.activation,
            "position_embedding": self.position_embedding,
            "scale_embeddings": self.scale_embeddings,
            "logits_bias": self.logits_bias,
            "suppressed_ids": self.suppressed_ids,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LogitsBias(keras.layers.Layer):
    """Adds a learned bias, one value per vocabulary id, to float32 logits (Marian's `final_logits_bias`)."""

    def build(self, logits_shape):
        self.bias = self.add_weight(name="bias", shape=(logits_shape[-1],), initializer="zeros",
                                    dtype="float32")
        super().build(logits_shape)

    def call(self, logits):
        return logits + ops.cast(self.bias, logits.dtype)

    def compute_output_shape(self, logits_shape):
        return logits_shape


def _configure_attention(layer, dropout, attention_dropout):
    """Gives a keras-hub Transformer layer's attention weights their own dropout rate, and
    asks for cuDNN's flash attention only where `keras.config.enable_flash_attention()` did.

    keras-hub hands a layer's one `dropout` to its `MultiHeadAttention`s as
    well as to its residual dropouts, and Keras takes the fused
    `ops.dot_product_attention` path only when the attention's rate is 0: no
    public argument separates the two (`kseq.library_internals`).

    Left to decide (`flash_attention=None`), Keras' JAX backend tries cuDNN
    on a GPU first; cuDNN refuses the padding mask (a bias of one query
    position), and Keras logs the traceback at every trace before it runs
    XLA's attention. So the attempt is skipped unless flash attention was
    asked for: the same XLA attention, without the noise.
    """
    set_attention_dropout(layer, dropout, attention_dropout,
                          flash_attention=keras.config.is_flash_attention_enabled())


@contextlib.contextmanager
def dtype_policy(name):
    """Keras' global dtype policy set to `name` ("mixed_float16"...) while models are built.

    Keras wraps the optimizer in a `LossScaleOptimizer` for `mixed_float16`. A
    saved `Seq2SeqTransformer` keeps no policy: loaded, it computes in float32.
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def with_dtype_policy(model, policy):
    """A copy of a `Seq2SeqTransformer` that computes under `policy` ("mixed_float16"...).

    The weights are copied (they stay float32); the logits stay float32.
    """
    with dtype_policy(policy):
        copy = Seq2SeqTransformer.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy
