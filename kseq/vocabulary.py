"""A SentencePiece vocabulary in plain Python: learned, applied and reversed without TensorFlow.

The `Tokenizer` layer (`kseq.tf.tokenizer`) runs the same model file inside
TensorFlow graphs with tensorflow-text's kernels, for the exports. Training
and evaluation tokenize here, with the `sentencepiece` package, so that they
run on any Keras backend, on machines with no TensorFlow at all. Both give
the same ids (`tests/test_vocabulary.py` checks it on the spa-eng test split).
"""

import io
import os

import sentencepiece

from kseq.errors import UsageError
from kseq.special_ids import END_ID, NUM_SPECIAL_IDS, PAD_ID, START_ID, UNKNOWN_ID

NORMALIZATION = "nmt_nfkc"


def learn_vocabulary(texts, max_vocabulary_size=8000, model_type="unigram", character_coverage=1.0):
    """Learns a SentencePiece model from an iterable of strings; returns its bytes.

    The vocabulary's size is a multiple of 8 (the embedding and output layers
    then fill GPU tensor-core tiles): `max_vocabulary_size` rounded down, or,
    when the corpus cannot fill that many pieces, the most it can fill
    rounded down (or, when fewer pieces cannot hold every character, what it
    can fill).
    """
    if max_vocabulary_size <= NUM_SPECIAL_IDS:
        raise UsageError(f"`max_vocabulary_size` must be larger than {NUM_SPECIAL_IDS}. "
                         f"Received: max_vocabulary_size={max_vocabulary_size}")
    if model_type not in ("unigram", "bpe"):
        raise UsageError(f"`model_type` must be 'unigram' or 'bpe'. Received: model_type={model_type!r}")
    texts = list(texts)
    size = max(8, max_vocabulary_size // 8 * 8)
    proto = _train(texts, size, model_type, character_coverage)
    for _ in range(3):  # a corpus that cannot fill `size` gives fewer: ask again, rounded
        learned = Vocabulary(proto).size
        if learned % 8 == 0 or learned < 8:
            break
        try:
            proto = _train(texts, learned // 8 * 8, model_type, character_coverage)
        except RuntimeError:  # its characters alone need more pieces than that
            break
    return proto


def _train(texts, vocabulary_size, model_type, character_coverage):
    # `keras_hub.tokenizers.compute_sentence_piece_proto` has no `character_coverage`
    # and fails when a small corpus cannot fill the vocabulary, so the
    # SentencePiece trainer is called directly.
    writer = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=writer,
        vocab_size=vocabulary_size,
        model_type=model_type,
        character_coverage=character_coverage,
        normalization_rule_name=NORMALIZATION,
        pad_id=PAD_ID,
        unk_id=UNKNOWN_ID,
        bos_id=START_ID,
        eos_id=END_ID,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return writer.getvalue()


class Vocabulary:
    """A learned SentencePiece model: `encode` strings to ids, `decode` ids to strings.

    Args:
        proto: bytes, or the path of a SentencePiece `.model` file.

    Example:
    >>> vocabulary = Vocabulary(learn_vocabulary(["Hola mundo.", "Hello world."], 40))
    >>> vocabulary.decode(vocabulary.encode(["Hola mundo."]))
    ['Hola mundo.']
    """

    def __init__(self, proto):
        if isinstance(proto, (str, os.PathLike)):
            with open(proto, "rb") as f:
                proto = f.read()
        self.processor = sentencepiece.SentencePieceProcessor()
        try:
            self.processor.LoadFromSerializedProto(proto)
        except (RuntimeError, OSError) as error:
            raise ValueError(f"Not a SentencePiece model: {error}") from None
        self.proto = proto

    @property
    def size(self):
        """The number of ids the vocabulary uses."""
        return self.processor.get_piece_size()

    @property
    def special_ids(self):
        """(pad, unknown, start, end) ids; kseq's are `kseq.special_ids`' 0, 1, 2, 3 (-1: none)."""
        p = self.processor
        return p.pad_id(), p.unk_id(), p.bos_id(), p.eos_id()

    def encode(self, texts, sampling_alpha=0.0):
        """A list of strings to a list of id lists (no start or end ids).

        `sampling_alpha` > 0 samples each segmentation from the unigram model
        (subword regularization, Kudo 2018): near 1 mostly the best segmentation, near 0
        almost any (0.1 nearly doubles the pieces of a spa-eng sentence, 0.5 adds 4 %);
        0 always gives the best one.
        """
        sampling = dict(enable_sampling=True, alpha=sampling_alpha, nbest_size=-1) if sampling_alpha else {}
        return self.processor.encode(list(texts), num_threads=os.cpu_count() or 1, **sampling)

    def decode(self, ids):
        """Rows of ids to strings, each cut at its first end id; pad and start ids give nothing."""
        rows = []
        for row in ids:
            row = [int(i) for i in row]
            rows.append(row[: row.index(END_ID)] if END_ID in row else row)
        return self.processor.decode(rows)

    def id_to_piece(self, ids):
        """The pieces of a list of ids (Python strings)."""
        return [self.processor.id_to_piece(int(i)) for i in ids]
