import json
import os

import pytest

from kseq.errors import MissingFileError, RunDirectoryError
from kseq.run_directory import RunDirectory, read_json, tflite_file_name, write_json


def test_a_trained_run_directory_loads(tiny_run):
    run = RunDirectory(tiny_run[0])
    source, target = run.tokenizers()
    assert source.proto == target.proto  # joint vocabulary by default
    assert run.load_model().get_config() == run.config["model"]
    assert run.task == "translation" and run.settings["preset"] == "tiny"
    assert run.training_config.preset == "tiny" and run.training_config.to_dict() == run.settings


def test_missing_files_are_named(tmp_path, tiny_run):
    with pytest.raises(MissingFileError, match="config.json"):
        RunDirectory(tmp_path).config
    (tmp_path / "config.json").write_text((tiny_run[0] / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="tokenizer.model"):
        RunDirectory(tmp_path).tokenizers()
    with pytest.raises(FileNotFoundError, match="model.keras"):
        RunDirectory(tmp_path).load_model()
    with pytest.raises(FileNotFoundError, match="holds no SavedModel.*kseq export"):
        RunDirectory(tmp_path).latest_saved_model_path()
    with pytest.raises(FileNotFoundError, match="translator_ids_float16.tflite.*--quantize float16"):
        RunDirectory(tmp_path).tflite_path("ids", "float16")


def test_incompatible_or_damaged_configs_are_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(RunDirectoryError, match="format_version=99"):
        RunDirectory(tmp_path).config
    (tmp_path / "config.json").write_text(json.dumps({"format_version": 1, "settings": {}}))
    with pytest.raises(RunDirectoryError, match="no 'model' section"):
        RunDirectory(tmp_path).config


def test_artifact_names_and_what_a_run_has_exported(tiny_export):
    assert tflite_file_name("ids") == "translator_ids.tflite"
    assert tflite_file_name("text", "dynamic") == "translator_text_dynamic.tflite"
    run = RunDirectory(tiny_export)
    assert run.saved_model_versions() == [1]
    assert run.next_saved_model_path() == os.path.join(str(tiny_export), "saved_model", "2")
    assert ("tflite_ids", "dynamic") in run.exported_backends()
    assert run.exported_backends()[0] == ("keras", "float32")


def test_json_is_written_atomically(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"bleu": 1.5, "text": "¿Qué?"})
    assert read_json(path) == {"bleu": 1.5, "text": "¿Qué?"}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_two_runs_racing_for_one_directory_get_one_claim(tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert RunDirectory.create(str(out)).path == str(out)
    # The second run looked before the first had written anything: the claim still refuses it.
    monkeypatch.setattr(os, "listdir", lambda path: [])
    with pytest.raises(RunDirectoryError, match="claimed by another kseq run"):
        RunDirectory.create(str(out))


def test_resume_needs_an_unfinished_run(tmp_path, tiny_run):
    with pytest.raises(RunDirectoryError, match="no run to resume"):
        RunDirectory.create(str(tmp_path), resume=True)
    with pytest.raises(RunDirectoryError, match="has finished"):
        RunDirectory.create(str(tiny_run[0]), resume=True)


def test_the_saved_model_has_the_weights_and_no_optimizer_state(tmp_path):
    import zipfile

    import keras
    import numpy as np

    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64)])
    model.compile("adam", "mse")
    model.fit(np.ones((8, 64)), np.ones((8, 64)), verbose=0)  # Adam's two slots per weight exist now
    model.save(tmp_path / "with_optimizer.keras")
    run = RunDirectory(tmp_path)
    run.save_model(model)

    np.testing.assert_array_equal(keras.saving.load_model(run.model_path).get_weights()[0], model.get_weights()[0])
    assert os.path.getsize(run.model_path) < 0.5 * os.path.getsize(tmp_path / "with_optimizer.keras")
    with zipfile.ZipFile(tmp_path / "with_optimizer.keras") as full, zipfile.ZipFile(run.model_path) as bare:
        assert sorted(full.namelist()) == sorted(bare.namelist())  # the same format, a smaller file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras", "with_optimizer.keras"]
