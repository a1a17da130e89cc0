"""Training on a `.npz` with Keras' JAX backend, without TensorFlow; the run exports under TensorFlow."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, tiny_settings
from kseq import pretokenized
from kseq import run_directory as rd
from kseq.builtin_corpus import builtin_pairs
from kseq.data import make_examples
from kseq.decoding import greedy_decode
from kseq.training import build_tokenizers

# As on a GPU machine with JAX only: importing TensorFlow fails.
TRAIN_AND_DECODE_ON_JAX = """
import sys
sys.modules["tensorflow"] = None
import keras, numpy as np
from kseq import pretokenized, run_directory
from kseq.decoding import greedy_decode
from kseq.pretokenized_training import main

data, run_dir, ids_file = sys.argv[1:]
assert keras.backend.backend() == "jax"
main([data, "--out", run_dir, "--preset", "tiny", "--epochs", "6", "--learning-rate", "3e-3"])
source = pretokenized.load(data).splits["valid"][0]
np.save(ids_file, np.asarray(greedy_decode(run_directory.load_model(run_dir), source)))
"""


@pytest.fixture(scope="module")
def jax_run(tmp_path_factory):
    """(run directory trained on JAX, its greedy ids for the valid sources, the valid pairs)."""
    tmp_path = tmp_path_factory.mktemp("jax_run")
    pairs = builtin_pairs()
    train, valid = pairs[:1500], pairs[-24:]
    tokenizer, _ = build_tokenizers(train, tiny_settings())
    data = tmp_path / "data.npz"
    pretokenized.save(data, {split: make_examples(split_pairs, tokenizer, tokenizer, 40, 40)
                             for split, split_pairs in (("train", train), ("valid", valid))},
                      tokenizer.proto, tokenizer.vocabulary_size())
    run_dir, ids_file = tmp_path / "run", tmp_path / "jax_ids.npy"
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_AND_DECODE_ON_JAX, str(data), str(run_dir), str(ids_file)],
        cwd=REPO, env=dict(os.environ, KERAS_BACKEND="jax"), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "target tokens/s" in result.stdout and "python -m export" in result.stdout
    return run_dir, np.load(ids_file), valid


def test_fits_on_jax_and_decodes_the_same_on_tensorflow(jax_run):
    run_dir, jax_ids, valid = jax_run
    with open(run_dir / rd.HISTORY_FILE, newline="") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert losses[-1] < 0.8 * losses[0]
    assert rd.load_config(run_dir)["settings"]["backend"] == "jax"

    source = pretokenized.load(run_dir.parent / "data.npz").splits["valid"][0]
    tensorflow_ids = np.asarray(greedy_decode(rd.load_model(run_dir), source))
    assert (jax_ids > 3).sum() >= len(valid)  # real pieces, not only end ids
    np.testing.assert_array_equal(tensorflow_ids, jax_ids)


def test_a_jax_trained_run_exports_with_parity(jax_run):
    from export.export_run import export_run
    from export.parity import check_parity

    run_dir, _, valid = jax_run
    export_run(str(run_dir), log=lambda *_: None)
    report = check_parity(str(run_dir), [source for source, _ in valid])
    for backend in ("saved_model", "tflite", "tflite_ids"):
        assert report[backend]["same_ids"] == 100.0, report[backend]


def test_refuses_arrays_longer_than_the_model(tmp_path):
    pairs = builtin_pairs()[:50]
    tokenizer, _ = build_tokenizers(pairs, tiny_settings())
    data = tmp_path / "data.npz"
    pretokenized.save(data, {"train": make_examples(pairs, tokenizer, tokenizer, 40, 40)},
                      tokenizer.proto, tokenizer.vocabulary_size())
    result = subprocess.run(
        [sys.executable, "-m", "kseq.pretokenized_training", str(data), "--out", str(tmp_path / "run"),
         "--preset", "tiny", "--max-source-length", "4"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "data.npz" in result.stderr and "--max-source-length 4" in result.stderr
