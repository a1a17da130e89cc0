"""A run directory's model behind TensorFlow Serving's signatures, for `kseq serve`."""

import numpy as np

from kseq.backends import load
from kseq.run_directory import RunDirectory
from kseq.tasks import output_key

# Each signature's input and outputs, with TF Serving's dtype names.
TEXT_SIGNATURE = {"inputs": {"text": "DT_STRING"}, "outputs": {"translation": "DT_STRING", "ids": "DT_INT32"}}
IDS_SIGNATURE = {"inputs": {"source_ids": "DT_INT32"}, "outputs": {"ids": "DT_INT32"}}


class ServedModel:
    """A run directory's model behind TF Serving's signatures: name -> (rows in -> rows out).

    `serving_default` (text in; translation and ids out) on every backend;
    the SavedModel adds `translate_beam` (if it was exported with beams) and
    `translate_ids` (ids in, ids out).

    Args:
        run_dir: a run directory written by `kseq train`.
        backend, variant: as in `kseq.load`.

    Attributes:
        signatures: {name: (spec, function)}: the spec names the input and
            outputs with their dtypes; the function takes the input's values.
        version: the version served (the SavedModel's; 1 on the other backends).
        vocabulary_size: source ids the model reads.
        max_source_length: most source pieces the model reads, the end mark included.
    """

    def __init__(self, run_dir, backend="saved_model", variant="float32"):
        self.run_dir, self.backend = run_dir, backend
        run = RunDirectory(run_dir)
        self.source_vocabulary, target_vocabulary = run.vocabularies()  # sizes checked against the model
        self.vocabulary_size = self.source_vocabulary.size
        self.max_source_length = run.model_config["max_source_length"]
        translator = load(run_dir, backend, variant)
        self.version = run.saved_model_versions()[-1] if backend == "saved_model" else 1
        self.signatures = {"serving_default": (TEXT_SIGNATURE, translator.translate)}
        if backend == "saved_model":
            exported = translator.signatures
            if "translate_beam" in exported:
                self.signatures["translate_beam"] = (TEXT_SIGNATURE, _text_signature(exported["translate_beam"]))
            self.signatures["translate_ids"] = (IDS_SIGNATURE, _ids_signature(exported["translate_ids"]))
        self.summary = _summary(run, backend, target_vocabulary.size)

    def run(self, signature, values):
        """Values of the signature's one input, a list -> a dict of output lists."""
        if signature == "translate_ids":
            return {"ids": self.signatures[signature][1](values)}
        translations, ids = self.signatures[signature][1](values)
        return {"translation": list(translations), "ids": np.asarray(ids).tolist()}

    def truncated(self, texts):
        """Indices of the texts longer than the model reads (they are cut, as in the exports)."""
        lengths = map(len, self.source_vocabulary.encode(texts))
        return [i for i, length in enumerate(lengths) if length > self.max_source_length - 1]


def _summary(run, backend, vocabulary_size):
    """What the model does and how large it is: the `kseq` part of the metadata, which the page shows."""
    model, settings = run.model_config, run.settings
    return {
        "task": run.task, "output_key": output_key(run.task), "backend": backend,
        "source_language": settings.get("source_language"),
        "target_language": settings.get("target_language"),
        "vocabulary_size": vocabulary_size,
        "max_source_length": model["max_source_length"],
        "max_target_length": model["max_target_length"],
        "layers": [model["num_encoder_layers"], model["num_decoder_layers"]],
        "hidden_dim": model["hidden_dim"],
    }


def _text_signature(function):
    """A SavedModel's text signature -> (texts -> (translations, ids))."""
    import tensorflow as tf

    def run(texts):
        outputs = function(text=tf.constant(list(texts), tf.string))
        return [t.decode("utf-8") for t in outputs["translation"].numpy()], outputs["ids"].numpy()

    return run


def _ids_signature(function):
    """A SavedModel's `translate_ids` -> (rows of source ids, of any lengths -> rows of output ids)."""
    import tensorflow as tf

    def run(rows):
        width = max(1, max(map(len, rows)))
        ids = np.zeros((len(rows), width), np.int32)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        return function(source_ids=tf.constant(ids))["ids"].numpy().tolist()

    return run
