import subprocess
import sys

import numpy as np
import tensorflow as tf
from conftest import REPO, held_out_sources

from kseq.litert import TextModelTranslator

VARIANTS = ("", "_float16", "_dynamic")


def test_text_model_matches_keras_on_held_out_and_edge_inputs(tiny_export, tiny_graph):
    sources, edge = held_out_sources(32)
    texts = sources + edge
    translations, ids = TextModelTranslator(tiny_export / "tflite" / "translator_text.tflite").translate(texts)
    expected = tiny_graph.translate(tf.constant(texts))
    np.testing.assert_array_equal(ids, expected["ids"].numpy())
    assert translations == [t.decode("utf-8") for t in expected["translation"].numpy()]


def test_quantized_text_models_run(tiny_export):
    for variant in VARIANTS[1:]:
        model = TextModelTranslator(tiny_export / "tflite" / f"translator_text{variant}.tflite")
        translations, ids = model.translate(["Ten books.", ""])
        assert len(translations) == 2 and ids.shape[0] == 2


# The ids model with nothing but ai-edge-litert, NumPy and sentencepiece:
# importing TensorFlow or TF Text in this process fails.
IDS_WITHOUT_TENSORFLOW = """
import json, sys
sys.modules["tensorflow"] = None
sys.modules["tensorflow_text"] = None
from kseq.litert import IdsModelTranslator
directory = sys.argv[1]
model = IdsModelTranslator(directory + "/translator_ids.tflite",
                           directory + "/tokenizer.model", directory + "/tokenizer.model")
texts = json.loads(sys.stdin.read())
translations, ids = model.translate(texts)
print(json.dumps({"translation": translations, "ids": ids.tolist()}))
"""


def test_ids_model_runs_without_tensorflow_and_matches_keras(tiny_export, tiny_graph):
    import json

    sources, edge = held_out_sources(32)
    texts = sources + edge
    result = subprocess.run(
        [sys.executable, "-c", IDS_WITHOUT_TENSORFLOW, str(tiny_export / "tflite")],
        input=json.dumps(texts), capture_output=True, text=True, timeout=300, cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = json.loads(result.stdout.strip().splitlines()[-1])
    expected = tiny_graph.translate(tf.constant(texts))
    assert outputs["ids"] == expected["ids"].numpy().tolist()
    assert outputs["translation"] == [t.decode("utf-8") for t in expected["translation"].numpy()]


def test_beam_search_converts_to_builtins_and_decodes_as_keras_in_litert():
    """The opt-in `translator_ids_beam.tflite` (`kseq export --tflite-beam`)."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    from export.operators import list_operators
    from export.tflite import beam_ids_function, convert, freeze
    from kseq.decoding import beam_decode
    from kseq.decoding_strategy import Beam
    from kseq.model import Seq2SeqTransformer
    from kseq.tf.translation_graph import TranslationGraph

    keras.utils.set_random_seed(1)
    model = Seq2SeqTransformer(vocabulary_size=64, num_encoder_layers=1, num_decoder_layers=1, hidden_dim=32,
                               num_heads=2, intermediate_dim=64, dropout=0.0, max_source_length=12,
                               max_target_length=10)
    translator = TranslationGraph(model, None, None, max_length=10, beam=Beam(width=4, length_penalty=0.6))
    content = convert(freeze(beam_ids_function(translator)))
    operators = list_operators(content)
    assert operators["custom"] == [] and "WHILE" in operators["builtin"] and "TOPK_V2" in operators["builtin"]
    run = Interpreter(model_content=content, num_threads=2).get_signature_runner()
    random = np.random.default_rng(0)
    for _ in range(10):
        length = int(random.integers(2, 12))
        source = np.zeros((1, 12), np.int32)
        source[0, : length - 1] = random.integers(4, 64, length - 1)
        source[0, length - 1] = 3
        np.testing.assert_array_equal(run(source_ids=source)["ids"], beam_decode(model, source, 4, 0.6, 10))
