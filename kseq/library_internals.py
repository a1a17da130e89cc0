"""The private parts of Keras, keras-hub and TensorFlow that kseq relies on, all in this one module.

Each function below reaches one private attribute or method for which the
installed libraries offer no public route; its docstring says why, and which
versions were checked (Keras 3.15, keras-hub 0.32, TensorFlow 2.21).
`tests/test_library_internals.py` checks that each one still exists and
behaves, so that an upgrade that removes one fails there, by name, rather
than silently elsewhere. The rest of `kseq/` and `export/` uses public APIs
only (the same test greps them). TensorFlow is imported inside the functions
that need it: this module imports without it.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class TransformerLayerParts:
    """The sublayers of a keras-hub `TransformerEncoder` or `TransformerDecoder`.

    The cross-attention fields are None for an encoder layer.
    """

    self_attention: object
    self_attention_norm: object
    self_attention_dropout: object
    cross_attention: object
    cross_attention_norm: object
    cross_attention_dropout: object
    feedforward_intermediate_dense: object
    feedforward_output_dense: object
    feedforward_norm: object
    feedforward_dropout: object

    @property
    def attentions(self):
        """The layer's `MultiHeadAttention`s: self-attention, then cross-attention if any."""
        return [a for a in (self.self_attention, self.cross_attention) if a is not None]

    @property
    def residual_dropouts(self):
        """The `Dropout`s applied to each block's output before the residual sum."""
        return [d for d in (self.self_attention_dropout, self.cross_attention_dropout,
                            self.feedforward_dropout) if d is not None]


def transformer_layer_parts(layer):
    """The sublayers of a built keras-hub `TransformerEncoder` or `TransformerDecoder`.

    keras-hub keeps them as private attributes (`_self_attention_layer`,
    `_feedforward_output_dense`...) and Keras 3 has no public way to list a
    layer's sublayers. kseq needs them to set the attention dropout apart
    (`set_attention_dropout`), to load Marian weights (`kseq.marian`) and to
    read the last layer's cross-attention (`kseq.cross_attention`).
    """
    return TransformerLayerParts(
        self_attention=layer._self_attention_layer,
        self_attention_norm=layer._self_attention_layer_norm,
        self_attention_dropout=layer._self_attention_dropout,
        cross_attention=getattr(layer, "_cross_attention_layer", None),
        cross_attention_norm=getattr(layer, "_cross_attention_layer_norm", None),
        cross_attention_dropout=getattr(layer, "_cross_attention_dropout", None),
        feedforward_intermediate_dense=layer._feedforward_intermediate_dense,
        feedforward_output_dense=layer._feedforward_output_dense,
        feedforward_norm=layer._feedforward_layer_norm,
        feedforward_dropout=layer._feedforward_dropout,
    )


def set_attention_dropout(layer, dropout, attention_dropout, flash_attention):
    """Gives a built keras-hub Transformer layer's attention weights their own dropout rate.

    keras-hub's `TransformerEncoder` and `TransformerDecoder` take one
    `dropout`, handed to their `MultiHeadAttention`s as well as to their
    residual dropouts, and Keras takes the fused `ops.dot_product_attention`
    path only when the attention's rate is 0. No constructor argument separates
    the two, and `MultiHeadAttention.dropout` is read-only: the rates Keras
    reads at call time (`_dropout`, `_dropout_layer.rate`) are set here. A
    `Dropout` built at rate 0 has no seed, so the layer must have been built at
    the larger of the two rates.

    `flash_attention` (bool) replaces the attention's `_flash_attention`,
    which `MultiHeadAttention` fixes at construction; kseq passes False unless
    `keras.config.enable_flash_attention()` asked for it, so that Keras' JAX
    backend does not try cuDNN first (cuDNN refuses the padding mask, and
    Keras logs the traceback at every trace before it runs XLA's attention).
    """
    parts = transformer_layer_parts(layer)
    for attention in parts.attentions:
        attention._dropout = attention_dropout
        attention._dropout_layer.rate = attention_dropout
        attention._flash_attention = bool(flash_attention)
    for residual in parts.residual_dropouts:
        residual.rate = dropout


def symbolic_build(model, data_batch):
    """Builds a compiled model's metrics, loss and optimizer variables from one batch, as `fit()` does.

    Keras' trainer does this in its private `_symbolic_build` before the first
    step; no public method builds the compiled metrics' and the loss trackers'
    state (`Model.build` builds the layers only).
    """
    model._symbolic_build(data_batch=data_batch)


def replace_symbolic_build(model, build):
    """Makes `fit()` and `evaluate()` on TensorFlow call `build(iterator=None, data_batch=None)`
    instead of Keras' `_maybe_symbolic_build`.

    Keras 3.15 all-reduces the first batch there, which fails under
    `MultiWorkerMirroredStrategy` (keras-team/keras#20585); Keras offers no
    hook in its place.
    """
    model._maybe_symbolic_build = build


def variables_to_constants(concrete_function):
    """A TensorFlow concrete function with its variables turned into constants.

    TensorFlow's `convert_variables_to_constants_v2` has no public export
    (`tf.compat.v1.graph_util` freezes v1 sessions only). The TFLite
    converter's own freezing, even with `experimental_enable_resource_variables
    = False`, keeps the variables' reads inside the decoding loop: LiteRT fails
    at run time on a READ_VARIABLE in a WHILE body (checked on TensorFlow 2.21).
    The converter uses this helper itself.
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    return convert_variables_to_constants_v2(concrete_function)


def disable_per_channel_quantization(converter):
    """Asks a `tf.lite.TFLiteConverter` for one int8 scale per tensor rather than per output channel.

    The converter has only private flags for it in TensorFlow 2.21
    (`_experimental_disable_per_channel`, and
    `_experimental_disable_per_channel_quantization_for_dense_layers`, which
    leaves other layers per channel).
    """
    converter._experimental_disable_per_channel = True
