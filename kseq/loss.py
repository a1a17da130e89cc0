"""Label-smoothed cross-entropy over sparse labels."""

import keras
from keras import ops

from kseq.errors import UsageError


@keras.saving.register_keras_serializable(package="kseq")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy from logits, with integer labels and label smoothing.

    Written here because Keras' `SparseCategoricalCrossentropy` has no label
    smoothing and `CategoricalCrossentropy` needs one-hot labels as wide as
    the vocabulary. Equal to the latter: `(1 - s) * nll + s * mean(-log p)`.
    Padding is masked through `sample_weight`; the default reduction averages
    over real tokens only.

    Args:
        label_smoothing: float in [0, 1).
    """

    def __init__(self, label_smoothing=0.1, reduction="mean_with_sample_weight",
                 name="smoothed_sparse_crossentropy", **kwargs):
        super().__init__(reduction=reduction, name=name, **kwargs)
        if not 0 <= label_smoothing < 1:
            raise UsageError(
                f"`label_smoothing` must be in [0, 1). Received: label_smoothing={label_smoothing}"
            )
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        # With log p = z - logsumexp(z), the loss is logsumexp(z) - (1 - s) z[label] - s mean(z):
        # three reductions over the logits, no (tokens, vocabulary) log-probabilities written out.
        # The label's logit is picked by comparison with the ids, not gathered: a gather's
        # gradient is a scatter into a (tokens, vocabulary) buffer, a comparison's is elementwise.
        logits = ops.cast(y_pred, "float32")
        ids = ops.arange(ops.shape(logits)[-1], dtype="int32")
        is_label = ids == ops.expand_dims(ops.cast(y_true, "int32"), axis=-1)
        label_logits = ops.sum(ops.where(is_label, logits, 0.0), axis=-1)
        return (ops.logsumexp(logits, axis=-1) - (1 - self.label_smoothing) * label_logits
                - self.label_smoothing * ops.mean(logits, axis=-1))

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
