"""The model, its loss and greedy decoding on Keras' JAX backend, without TensorFlow."""

import json
import os
import subprocess
import sys

import numpy as np

from conftest import REPO, tiny_settings
from kseq import pretokenized
from kseq.builtin_corpus import builtin_pairs
from kseq.data import make_examples
from kseq.decoding import greedy_decode
from kseq.model import Seq2SeqTransformer
from kseq.presets import MODEL_KEYS
from kseq.training import build_tokenizers

# Runs with KERAS_BACKEND=jax where importing TensorFlow fails, as on a GPU
# machine that has JAX only: fits on the .npz arrays, decodes, saves weights.
JAX_FIT = """
import json, sys
sys.modules["tensorflow"] = None
import keras, numpy as np
from kseq import pretokenized
from kseq.decoding import greedy_decode
from kseq.loss import SmoothedSparseCrossentropy
from kseq.model import Seq2SeqTransformer

data, config, out = sys.argv[1:]
assert keras.backend.backend() == "jax"
splits, _ = pretokenized.load(data)
source, target = splits["train"]
keras.utils.set_random_seed(0)
model = Seq2SeqTransformer(**json.loads(config))
model.compile(keras.optimizers.Adam(3e-3), SmoothedSparseCrossentropy(0.1))
inputs, labels, weights = pretokenized.model_inputs(source, target)
history = model.fit(inputs, labels, sample_weight=weights, batch_size=64, epochs=4, verbose=0)
np.save(out + "/ids.npy", np.asarray(greedy_decode(model, source[:16])))
model.save_weights(out + "/model.weights.h5")
json.dump(history.history["loss"], open(out + "/losses.json", "w"))
"""


def test_fit_and_decode_on_jax_then_the_weights_decode_the_same_on_tensorflow(tmp_path):
    pairs = builtin_pairs()[:1500]
    settings = tiny_settings()
    tokenizer, _ = build_tokenizers(pairs, settings)
    data = tmp_path / "data.npz"
    pretokenized.save(data, {"train": make_examples(pairs, tokenizer, tokenizer, 40, 40)}, tokenizer.proto)
    config = dict({key: settings[key] for key in MODEL_KEYS}, vocabulary_size=tokenizer.vocabulary_size())

    result = subprocess.run(
        [sys.executable, "-c", JAX_FIT, str(data), json.dumps(config), str(tmp_path)],
        cwd=REPO, env=dict(os.environ, KERAS_BACKEND="jax"), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    losses = json.loads((tmp_path / "losses.json").read_text())
    assert losses[-1] < 0.8 * losses[0]

    model = Seq2SeqTransformer(**config)
    source = pretokenized.load(data)[0]["train"][0][:16]
    model(  # builds the variables
        {"encoder_inputs": source, "decoder_inputs": np.zeros((16, 2), np.int32)})
    model.load_weights(tmp_path / "model.weights.h5")
    jax_ids = np.load(tmp_path / "ids.npy")
    assert (jax_ids > 3).sum() >= 16  # real pieces, not only end ids
    np.testing.assert_array_equal(np.asarray(greedy_decode(model, source)), jax_ids)
