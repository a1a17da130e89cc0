import json
import subprocess
import sys

import tensorflow as tf
from conftest import held_out_sources

# Runs in a fresh interpreter that imports only tensorflow and tensorflow_text,
# as TensorFlow Serving would: no kseq.
LOAD_AND_TRANSLATE = """
import json, sys
import tensorflow as tf
import tensorflow_text  # registers the SentencePiece ops
model = tf.saved_model.load(sys.argv[1])
texts = json.loads(sys.stdin.read())
outputs = model.signatures["serving_default"](text=tf.constant(texts))
ids = model.signatures["translate_ids"](source_ids=tf.constant([[5, 6, 3]]))["ids"]
beam = model.signatures["translate_beam"](text=tf.constant(texts))
print(json.dumps({
    "beam_ids": beam["ids"].numpy().tolist(),
    "beam_width": int(model.beam_width.numpy()),
    "translation": [t.decode("utf-8") for t in outputs["translation"].numpy()],
    "ids": outputs["ids"].numpy().tolist(),
    "ids_signature_shape": ids.shape.as_list(),
    "kseq_imported": any(name.startswith("kseq") for name in sys.modules),
}))
"""


def test_serves_a_batch_of_strings_without_kseq(tiny_export, tiny_graph):
    sources, edge = held_out_sources(32)
    texts = sources + edge
    result = subprocess.run(
        [sys.executable, "-c", LOAD_AND_TRANSLATE, str(tiny_export / "saved_model" / "1")],
        input=json.dumps(texts), capture_output=True, text=True, timeout=300, cwd="/",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    assert served["kseq_imported"] is False
    assert served["ids_signature_shape"][0] == 1
    expected = tiny_graph.translate(tf.constant(texts))
    assert served["ids"] == expected["ids"].numpy().tolist()
    assert served["translation"] == [t.decode("utf-8") for t in expected["translation"].numpy()]
    # The beam signature searches as the Keras model does.
    from kseq.backends import load

    assert served["beam_width"] == 4
    keras_beam_ids = load(str(tiny_export), "keras", beam_width=4).translate(texts)[1].tolist()
    assert served["beam_ids"] == keras_beam_ids
    # kseq's SavedModel backend reaches the same signature through the strategy it holds.
    assert load(str(tiny_export), "saved_model", beam_width=4).translate(texts)[1].tolist() == keras_beam_ids


def test_beam_width_must_match_the_export(tiny_export):
    import pytest

    from kseq.backends import load

    with pytest.raises(ValueError, match="--beam-width 2"):
        load(str(tiny_export), "saved_model", beam_width=2)
    with pytest.raises(ValueError, match="decode greedily"):
        load(str(tiny_export), "tflite", beam_width=4)
