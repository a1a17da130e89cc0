"""The SavedModel export as a translator (`kseq.load(RUN_DIR, backend="saved_model")`)."""

import tensorflow as tf
import tensorflow_text  # noqa: F401  registers the SentencePiece ops

from kseq.decoding_strategy import Beam, Greedy
from kseq.errors import RunDirectoryError, UsageError
from kseq.run_directory import RunDirectory


class SavedModelTranslator:
    """The newest `saved_model/<version>/`, through the signature that decodes as `decoding`
    does: `serving_default` for `Greedy()`, `translate_beam` for a `Beam` of the width it was
    exported with (its length penalty is the export's too)."""

    def __init__(self, run_dir, decoding=Greedy()):
        run = RunDirectory(run_dir)
        self.path = run.latest_saved_model_path()
        try:
            loaded = tf.saved_model.load(self.path)
        except (tf.errors.OpError, OSError, ValueError, IndexError) as error:
            raise RunDirectoryError(
                f"{self.path} is damaged ({type(error).__name__}: {error}): export it again "
                f"with `kseq export {run.path} --formats saved_model`.") from None
        self.loaded = loaded
        self.signatures = loaded.signatures  # every exported signature, by name (`kseq serve` offers them)
        self.exported_beam_width = int(loaded.beam_width.numpy()) if hasattr(loaded, "beam_width") else None
        widths = {Greedy.signature: Greedy.width, Beam.signature: self.exported_beam_width}  # as exported
        exported = widths[decoding.signature]
        if exported != decoding.width:
            raise UsageError(
                f"{self.path} searches with {exported or 'no'} beams, not {decoding.width}: export again "
                f"with `kseq export {run.path} --formats saved_model --beam-width {decoding.width}`.")
        self.serve = loaded.signatures[decoding.signature]

    def translate(self, texts):
        outputs = self.serve(text=tf.constant(list(texts), tf.string))
        return [t.decode("utf-8") for t in outputs["translation"].numpy()], outputs["ids"].numpy()
