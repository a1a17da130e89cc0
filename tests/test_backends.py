import shutil

import pytest

from kseq.backends import load
from kseq.decoding_strategy import Beam, Greedy


def test_float32_backends_agree(tiny_export, tiny_keras):
    texts = ["Ten books.", "It is one o'clock.", "", "😀"]
    expected_text, expected_ids = tiny_keras.translate(texts)
    for backend in ("saved_model", "tflite", "tflite_ids"):
        translations, ids = load(tiny_export, backend).translate(texts)
        assert translations == expected_text, backend
        assert ids.tolist() == expected_ids.tolist(), backend


def test_unknown_backend_and_variant_list_the_valid_ones(tiny_run):
    run_dir, _ = tiny_run
    with pytest.raises(ValueError, match="keras, saved_model, tflite, tflite_ids"):
        load(run_dir, "onnx")
    with pytest.raises(ValueError, match="float32, float16, dynamic"):
        load(run_dir, "tflite", "int4")
    with pytest.raises(ValueError, match="--max-output-length"):
        load(run_dir, "tflite", max_length=5)


def test_missing_artifact_names_the_command_that_makes_it(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("saved_model", "tflite"))
    with pytest.raises(FileNotFoundError, match="kseq export"):
        load(copy, "saved_model")
    with pytest.raises(FileNotFoundError, match="--quantize dynamic"):
        load(copy, "tflite_ids", "dynamic")


def test_keras_backend_can_shorten_the_output(tiny_run):
    run_dir, _ = tiny_run
    _, ids = load(run_dir, "keras", max_length=3).translate(["The answer is nine hundred."])
    assert ids.shape == (1, 3)


def test_the_beam_width_is_checked_once_and_held_as_a_strategy(tiny_run):
    run_dir, _ = tiny_run
    with pytest.raises(ValueError, match="--beam-width .*Received: 0"):
        load(run_dir, "keras", beam_width=0)
    assert load(run_dir, "keras").decoding == Greedy()
    beam = load(run_dir, "keras", beam_width=2, max_length=5)
    assert beam.decoding == Beam(width=2)
    translations, ids = beam.translate(["Ten books.", "It is one o'clock."])
    assert len(translations) == 2 and ids.shape == (2, 5)
