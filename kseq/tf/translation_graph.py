"""TranslationGraph: strings in, strings out, with the model's decoding (greedy, or beam search) in a graph."""

import tensorflow as tf

from kseq.decoding_strategy import Beam, Greedy
from kseq.special_ids import END_ID, PAD_ID


class TranslationGraph(tf.Module):
    """Tokenize, decode with the cache, detokenize: one TF graph.

    `translate` (greedy), `translate_ids` (greedy, ids in and out) and
    `translate_beam` (`beam`) are the compiled entry points (any batch size);
    the SavedModel serves them as they are and the TFLite export wraps
    `translate_text` and `decode_ids` at fixed shapes. They return the
    signatures' dicts of tensors (`translate`: `{"translation", "ids"}`), not
    the `(translations, ids)` tuple of the translators `kseq.load` returns.
    Sources longer than the model's `max_source_length` are truncated.

    Args:
        model: a `Seq2SeqTransformer`.
        source_tokenizer: the `Tokenizer` of the source side.
        target_tokenizer: the `Tokenizer` of the target side.
        max_length: int or None. Most tokens to generate (end id included);
            defaults to the model's `max_target_length`.
        beam: the `kseq.decoding_strategy.Beam` that `translate_beam` searches with.

    Example:
    >>> graph = TranslationGraph(model, tokenizer, tokenizer)
    >>> graph.translate(tf.constant(["Good morning."]))["translation"]
    """

    def __init__(self, model, source_tokenizer, target_tokenizer, max_length=None, beam=Beam()):
        super().__init__()
        self.beam = beam
        self.model = model
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.max_length = max_length or model.max_target_length
        # Each takes its tensor argument alone: a SavedModel cannot encode a strategy as a default.
        self.translate = self._text_function(Greedy())
        self.translate_ids = tf.function(
            lambda source_ids: self.decode_ids(source_ids),
            input_signature=[tf.TensorSpec([None, None], tf.int32, name="source_ids")],
        )
        self.translate_beam = self._text_function(beam)

    def _text_function(self, decoding):
        return tf.function(lambda text: self.translate_text(text, decoding=decoding),
                           input_signature=[tf.TensorSpec([None], tf.string, name="text")])

    def translate_text(self, text, source_length=None, decoding=Greedy()):
        """text (batch,) -> {"translation": (batch,) strings, "ids": (batch, max_length)}, decoded with `decoding`."""
        ids = self.decode_ids(self.source_ids(text, source_length), decoding)["ids"]
        return {"translation": self.target_tokenizer.detokenize(ids), "ids": ids}

    def decode_ids(self, source_ids, decoding=Greedy()):
        """source_ids (batch, steps), 0-padded, ending with the end id -> {"ids"}, decoded with `decoding`."""
        return {"ids": decoding.decode(self.model, source_ids, self.max_length)}

    def source_ids(self, text, length=None):
        """Source ids as the model was trained on them, (batch, length or longest)."""
        ids = self.source_tokenizer(text)
        shape = [None, None if length is None else length - 1]
        return add_end_id(ids.to_tensor(PAD_ID, shape=shape), self.model.max_source_length)


def add_end_id(ids, max_length):
    """Truncates 0-padded ids (batch, steps) to `max_length - 1` and appends the end id.

    The in-graph twin of `kseq.data.make_examples`' source rows. Dense ops
    only: the TFLite models run this too.
    """
    ids = ids[:, : max_length - 1]
    ids = tf.pad(ids, [[0, 0], [0, 1]])
    lengths = tf.reduce_sum(tf.cast(ids != PAD_ID, tf.int32), axis=1, keepdims=True)
    positions = tf.range(tf.shape(ids)[1])[tf.newaxis, :]
    return tf.where(positions == lengths, tf.constant(END_ID, ids.dtype), ids)
