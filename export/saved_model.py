"""SavedModel for TensorFlow Serving: text in, text out, greedy or beam decoding inside."""

import tensorflow as tf

from kseq.atomic import atomic_directory
from kseq.decoding_strategy import Beam, Greedy


def export_saved_model(graph, directory, overwrite=False, expected_bytes=None):
    """Writes `graph` as a SavedModel with three signatures.

    - `serving_default` (`Greedy.signature`): `text` string (batch,) ->
      `translation` string (batch,) and `ids` int32 (batch, max_length).
    - `translate_ids`: `source_ids` int32 (batch, steps) -> `ids`, core TF
      ops only, for servers without TF Text.
    - `translate_beam` (`Beam.signature`): as `serving_default`, with
      `graph.beam` (its width kept in the `beam_width` variable).

    It loads with `tensorflow` and `tensorflow_text` alone (no kseq).
    """
    module = tf.Module()
    # Keras 3 variables wrap tf.Variables; the SavedModel tracks the latter,
    # as keras.export.ExportArchive does.
    module.model_variables = [variable.value for variable in graph.model.variables]
    module.translate = graph.translate
    module.translate_ids = graph.translate_ids
    module.translate_beam = graph.translate_beam
    module.beam_width = tf.Variable(graph.beam.width, trainable=False, name="beam_width")
    signatures = {
        Greedy.signature: graph.translate.get_concrete_function(),
        "translate_ids": graph.translate_ids.get_concrete_function(),
        Beam.signature: graph.translate_beam.get_concrete_function(),
    }
    with atomic_directory(directory, overwrite, expected_bytes) as temporary:
        tf.saved_model.save(module, temporary, signatures=signatures)
    return directory
