"""A SentencePiece subword tokenizer as a Keras preprocessing layer."""

import os

import keras
import tensorflow as tf
import tensorflow_text

from kseq.special_ids import END_ID, NUM_SPECIAL_IDS, PAD_ID, START_ID, UNKNOWN_ID  # noqa: F401
from kseq.vocabulary import Vocabulary, learn_vocabulary

SPIECE_FILENAME = "spiece.model"


@keras.saving.register_keras_serializable(package="kseq")
class Tokenizer(keras.layers.Layer):
    """Subword tokenizer: strings in, int32 token ids out, and back.

    `adapt()` learns a SentencePiece vocabulary; at run time the layer uses
    tensorflow-text's `FastSentencepieceTokenizer`, whose kernels also exist
    as TFLite custom ops. Ids 0-3 are fixed: pad, unknown, start, end.

    Text is normalized by SentencePiece's `nmt_nfkc` rule (Unicode NFKC plus
    its NMT fixes) and runs of whitespace collapse to one space, so
    `detokenize(tokenizer(s)) == normalize(s)`: case, accents and punctuation
    spacing survive (`"¿Cómo estás?"`). Characters never seen in `adapt()`
    come back as `" ⁇ "`.

    Args:
        max_vocabulary_size: int. The largest vocabulary `adapt()` may learn;
            a small corpus may give fewer pieces (see `vocabulary_size()`).
        model_type: str. SentencePiece model, `"unigram"` or `"bpe"`.
        character_coverage: float. Share of characters covered by the
            vocabulary; the rest map to the unknown id.
        sequence_length: int or None. If set, outputs are dense, truncated
            and padded with 0 to this length; otherwise ragged.
        proto: bytes, a path to a SentencePiece `.model` file, or None (to be
            learned with `adapt()`).

    Example:
    >>> tokenizer = Tokenizer(max_vocabulary_size=100)
    >>> tokenizer.adapt(["Hello world.", "Hola mundo."])
    >>> tokenizer.detokenize(tokenizer(["Hola mundo."]))
    """

    def __init__(
        self,
        max_vocabulary_size=8000,
        model_type="unigram",
        character_coverage=1.0,
        sequence_length=None,
        proto=None,
        **kwargs,
    ):
        super().__init__(**{"trainable": False, "dtype": "int32", **kwargs})
        if max_vocabulary_size <= NUM_SPECIAL_IDS:
            raise ValueError(
                f"`max_vocabulary_size` must be larger than {NUM_SPECIAL_IDS}. "
                f"Received: max_vocabulary_size={max_vocabulary_size}"
            )
        if model_type not in ("unigram", "bpe"):
            raise ValueError(
                "`model_type` must be 'unigram' or 'bpe'. "
                f"Received: model_type={model_type!r}"
            )
        self.max_vocabulary_size = max_vocabulary_size
        self.model_type = model_type
        self.character_coverage = character_coverage
        self.sequence_length = sequence_length
        self._proto = None
        self._fast = None
        if proto is not None:
            self.set_proto(proto)

    @property
    def proto(self):
        """The serialized SentencePiece model (bytes), or None before adapt."""
        return self._proto

    def set_proto(self, proto):
        if isinstance(proto, (str, os.PathLike)):
            with open(proto, "rb") as f:
                proto = f.read()
        self._vocabulary = Vocabulary(proto)
        self._proto = self._vocabulary.proto
        self._fast = tensorflow_text.FastSentencepieceTokenizer(proto)
        space = self._vocabulary.processor.piece_to_id("\u2581")  # the lone word-boundary piece "▁"
        self._space_id = None if space == self._vocabulary.processor.unk_id() else space

    def adapt(self, texts):
        """Learns the vocabulary from an iterable of strings (see `kseq.vocabulary.learn_vocabulary`)."""
        self.set_proto(learn_vocabulary(texts, self.max_vocabulary_size, self.model_type,
                                        self.character_coverage))

    def vocabulary_size(self):
        """The number of ids the learned vocabulary uses."""
        self._check_adapted()
        return int(self._fast.vocab_size())

    def id_to_piece(self, ids):
        """The vocabulary's pieces for a list of ids (Python strings)."""
        self._check_adapted()
        return self._vocabulary.id_to_piece(ids)

    def __call__(self, texts, **kwargs):
        # Keras only takes tensors positionally: accept str and lists too.
        return super().__call__(tf.convert_to_tensor(texts, tf.string), **kwargs)

    def call(self, texts):
        self._check_adapted()
        ids = self._fast.tokenize(texts)
        if self.sequence_length is None:
            return ids
        if isinstance(ids, tf.RaggedTensor):
            # `to_tensor` with a shape truncates as well as pads.
            return ids.to_tensor(PAD_ID, shape=[None, self.sequence_length])
        ids = ids[: self.sequence_length]  # a single string: (steps,)
        return tf.pad(ids, [[0, self.sequence_length - tf.shape(ids)[0]]])

    def detokenize(self, ids):
        """Token ids (batch, steps), dense or ragged, to strings.

        Pad, start and end ids decode to nothing, so a decoder's output
        (tokens, end id, padding) detokenizes as it is. No ragged ops on dense
        input: the TFLite text model runs this with TF Text's kernels.
        """
        self._check_adapted()
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.cast(ids, tf.int32)
            if self._space_id is not None:
                ids = self._drop_leading_spaces(ids)
            ids = tf.RaggedTensor.from_tensor(ids, row_splits_dtype=tf.int32)
        return self._fast.detokenize(ids)

    def _drop_leading_spaces(self, ids):
        """Shifts each row left past its leading lone "▁" pieces, padding at the end.

        SentencePiece drops every leading "▁" as it decodes; TF Text's
        detokenizer keeps all but the first as spaces (and strips the first
        piece's "▁" only if it opens the row). Without them in front, the
        graph's text is `sentencepiece`'s (tests/test_tokenizer.py). Dense
        builtin ops only: the TFLite text model runs this.
        """
        leading = tf.reduce_sum(tf.cast(tf.cumsum(tf.cast(ids != self._space_id, tf.int32), axis=1) == 0,
                                        tf.int32), axis=1, keepdims=True)
        width = tf.shape(ids)[1]
        positions = tf.range(width)[tf.newaxis, :]
        shifted = tf.gather(ids, tf.minimum(positions + leading, width - 1), batch_dims=1)
        return tf.where(positions < width - leading, shifted, tf.constant(PAD_ID, tf.int32))

    def save_assets(self, dir_path):
        self._check_adapted()
        with open(os.path.join(dir_path, SPIECE_FILENAME), "wb") as f:
            f.write(self._proto)

    def load_assets(self, dir_path):
        self.set_proto(os.path.join(dir_path, SPIECE_FILENAME))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_vocabulary_size": self.max_vocabulary_size,
                "model_type": self.model_type,
                "character_coverage": self.character_coverage,
                "sequence_length": self.sequence_length,
                # The model itself travels as an asset, not in the config.
                "proto": None,
            }
        )
        return config

    def _check_adapted(self):
        if self._proto is None:
            raise ValueError(
                "The tokenizer has no vocabulary yet: call `adapt(texts)` or "
                "pass `proto=` (a SentencePiece model file or its bytes)."
            )
