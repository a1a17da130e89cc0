"""Run the exported TFLite models with the LiteRT runtime (ai-edge-litert)."""

import threading

import numpy as np
import sentencepiece
from ai_edge_litert.interpreter import Interpreter, InterpreterWithCustomOps

from kseq.errors import RunDirectoryError


class LiteRTModel:
    """One exported .tflite file, run through its `serving_default` signature.

    The interpreter is not thread-safe, so calls are serialised by a lock.
    A text model needs TF Text's custom-op kernels (`tensorflow_text`); an
    ids model needs nothing but `ai-edge-litert` and NumPy.

    Args:
        path: the .tflite file.
        num_threads: int. CPU threads for the interpreter.

    Example:
    >>> model = LiteRTModel("run/tflite/translator_text.tflite")
    >>> model(text=np.array(["Good morning."]))["translation"]
    """

    def __init__(self, path, num_threads=2):
        self.path = str(path)
        with open(self.path, "rb") as f:
            content = f.read()
        try:
            if b"TFText>" in content:
                import tensorflow_text  # registers TF Text's TFLite kernels

                self.interpreter = InterpreterWithCustomOps(
                    custom_op_registerers=tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS,
                    model_content=content, num_threads=num_threads,
                )
            else:
                self.interpreter = Interpreter(model_content=content, num_threads=num_threads)
        except (ValueError, RuntimeError) as error:
            raise RunDirectoryError(
                f"{self.path} is damaged or not a TFLite model ({error}): export it again "
                "with `kseq export RUN_DIR --formats tflite --overwrite`.") from None
        self.runner = self.interpreter.get_signature_runner()
        self._lock = threading.Lock()

    def __call__(self, **inputs):
        with self._lock:
            return {name: np.copy(value) for name, value in self.runner(**inputs).items()}


class TextModelTranslator:
    """The TFLite text model as a translator: strings in, strings out (batch 1 inside)."""

    def __init__(self, path, num_threads=2):
        self.model = LiteRTModel(path, num_threads)

    def translate(self, texts):
        """Returns (translations, ids (batch, max_length))."""
        outputs = [self.model(text=np.array([text], dtype=object)) for text in texts]
        translations = [o["translation"][0].decode("utf-8") for o in outputs]
        return translations, np.concatenate([o["ids"] for o in outputs])


class IdsModelTranslator:
    """The TFLite ids model with tokenization in Python, as an app would do it.

    Uses the `sentencepiece` package and the SentencePiece model shipped
    beside the .tflite file; needs neither TensorFlow nor TF Text.
    """

    def __init__(self, path, source_spiece, target_spiece, num_threads=2):
        self.model = LiteRTModel(path, num_threads)
        self.source = sentencepiece.SentencePieceProcessor(model_file=str(source_spiece))
        self.target = sentencepiece.SentencePieceProcessor(model_file=str(target_spiece))
        self.source_length = int(self.model.runner.get_input_details()["source_ids"]["shape"][1])

    def source_ids(self, text):
        """(1, source_length): pieces truncated to source_length - 1, the end id, zeros."""
        pieces = self.source.encode(text)[: self.source_length - 1] + [self.source.eos_id()]
        ids = np.zeros((1, self.source_length), np.int32)
        ids[0, : len(pieces)] = pieces
        return ids

    def translate(self, texts):
        """Returns (translations, ids (batch, max_length))."""
        ids = np.concatenate([self.model(source_ids=self.source_ids(t))["ids"] for t in texts])
        translations = []
        for row in ids.tolist():
            end = row.index(self.target.eos_id()) if self.target.eos_id() in row else len(row)
            translations.append(self.target.decode(row[:end]))
        return translations, ids
