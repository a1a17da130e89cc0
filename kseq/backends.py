"""One translator interface over the trained model and every exported artifact.

Each backend has `translate(texts) -> (translations, ids)`: a list of
strings and an int32 array (batch, max_length) of output token ids.
`kseq.batch_translation.translate_batches` feeds it many texts. Each backend
imports its runtime when it is chosen (Keras, TensorFlow through `kseq.tf`,
LiteRT), so the commands read `BACKENDS` without loading any of them.
"""

import numpy as np

from kseq.data import pad_rows
from kseq.decoding_strategy import Greedy, decoding_strategy
from kseq.errors import UsageError
from kseq.run_directory import TFLITE_VARIANTS, RunDirectory
from kseq.special_ids import END_ID

BACKENDS = ("keras", "saved_model", "tflite", "tflite_ids")
VARIANTS = TFLITE_VARIANTS


class KerasTranslator:
    """A `Seq2SeqTransformer`, decoding with `keras.ops` on the current Keras backend.

    Tokenizes with the `sentencepiece` package and needs no TensorFlow. Batches
    are padded to a few shapes, so that a compiling backend compiles the
    decoder at most twice per row count: sources to half or all of
    `max_source_length`, rows to `batch_size` (or, without it, to a power of
    two).

    Args:
        model: a `Seq2SeqTransformer` (trained in memory, or `RunDirectory.load_model()`).
        source_vocabulary, target_vocabulary: `kseq.vocabulary.Vocabulary`s.
        max_length: most output tokens (default: the model's `max_target_length`).
        decoding: `Greedy()` (`Greedy(use_cache=False)`: the naive loop, for
            benchmarks) or `Beam(width, length_penalty)`, from `kseq.decoding_strategy`.
        batch_size: rows every call is padded to (a multiple of it for more):
            `translate_batches`' batch size gives one row count. None pads
            to a power of two, for calls of any size (serving).
    """

    def __init__(self, model, source_vocabulary, target_vocabulary, max_length=None, decoding=Greedy(),
                 batch_size=None):
        from kseq.decoding import make_decoder

        self.model = model
        self.source_vocabulary, self.target_vocabulary = source_vocabulary, target_vocabulary
        self.max_source_length = model.max_source_length
        self.source_widths = sorted({max(1, self.max_source_length // 2), self.max_source_length})
        self.batch_size = batch_size
        self.decoding = decoding
        self.decode = make_decoder(model, decoding, max_length)

    @classmethod
    def from_run_dir(cls, run_dir, max_length=None, decoding=Greedy(), batch_size=None):
        run = RunDirectory(run_dir)
        return cls(run.load_model(), *run.vocabularies(), max_length=max_length, decoding=decoding,
                   batch_size=batch_size)

    def translate(self, texts):
        texts = list(texts)
        if not texts:
            return [], np.zeros((0, self.model.max_target_length), np.int32)
        rows = [ids[: self.max_source_length - 1] + [END_ID] for ids in self.source_vocabulary.encode(texts)]
        width = next(w for w in self.source_widths if w >= max(map(len, rows)))
        source_ids = pad_rows(rows + [[END_ID]] * (self._padded_rows(len(rows)) - len(rows)), width)
        ids = self.decode(source_ids)[: len(rows)]
        return self.target_vocabulary.decode(ids), ids

    def _padded_rows(self, count):
        if self.batch_size:
            return -(-count // self.batch_size) * self.batch_size
        return 1 << max(0, count - 1).bit_length()  # a power of two


def load(run_dir, backend="keras", variant="float32", max_length=None, num_threads=2, beam_width=1,
         batch_size=None):
    """Returns a translator for RUN_DIR on one backend.

    Args:
        run_dir: a run directory written by `kseq train`.
        backend: "keras", "saved_model", "tflite" (the text model) or
            "tflite_ids" (the ids model, tokenizing in Python with
            `sentencepiece`, as an app would).
        variant: TFLite weights: "float32", "float16" or "dynamic" (int8).
        max_length: most output tokens; only the keras backend can change
            it, the exports keep the length they were exported with.
        num_threads: CPU threads for LiteRT.
        beam_width: 1 for greedy decoding; more for beam search (keras, and
            saved_model at the width it was exported with; TFLite is greedy):
            `kseq.decoding_strategy.decoding_strategy` turns it into a strategy.
        batch_size: keras: the rows every call is padded to (`KerasTranslator`).
    """
    if backend not in BACKENDS:
        raise UsageError(f"Unknown backend {backend!r}: choose from {', '.join(BACKENDS)}.")
    if variant not in VARIANTS:
        raise UsageError(f"Unknown variant {variant!r}: choose from {', '.join(VARIANTS)}.")
    if variant != "float32" and not backend.startswith("tflite"):
        raise UsageError(f"variant={variant!r} applies to the tflite backends only.")
    if max_length is not None and backend != "keras":
        raise UsageError(
            f"max_length is fixed when exporting ({backend}): re-export with "
            "`kseq export RUN_DIR --max-output-length N`, or use backend='keras'.")
    decoding = decoding_strategy(beam_width)
    if decoding != Greedy() and backend.startswith("tflite"):
        raise UsageError(f"The TFLite models decode greedily: beam_width={beam_width} needs the keras "
                         "or saved_model backend.")
    if backend == "keras":
        return KerasTranslator.from_run_dir(run_dir, max_length, decoding, batch_size)
    run = RunDirectory(run_dir)
    # The exports carry their own copies, but the server and the pipelines read the run's
    # files: on every backend they must match the model.
    run.vocabularies()
    if backend == "saved_model":
        from kseq.tf.saved_model_translator import SavedModelTranslator  # needs TensorFlow: only this backend

        return SavedModelTranslator(run_dir, decoding)
    from kseq.litert import IdsModelTranslator, TextModelTranslator

    if backend == "tflite":
        return TextModelTranslator(run.tflite_path("text", variant), num_threads)
    # The ids model's app reads the tokenizer files shipped beside it in tflite/.
    model_path, tokenizers = run.tflite_path("ids", variant), run.tflite_tokenizer_paths
    run.vocabularies(tokenizers)
    return IdsModelTranslator(model_path, tokenizers["source"], tokenizers["target"],
                              num_threads)
