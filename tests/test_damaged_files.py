"""Damaged or missing files give an error naming the file, never a crash."""

import json
import shutil

import pytest

from kseq.backends import load
from kseq.run_directory import RunDirectory


@pytest.fixture()
def run_copy(tiny_export, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(tiny_export, copy)
    return copy


def truncate(path, keep=0.5):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def test_truncated_model_keras(run_copy):
    truncate(run_copy / "model.keras")
    with pytest.raises(ValueError, match=r"model\.keras is damaged"):
        load(run_copy, "keras")


@pytest.mark.parametrize("name", ["translator_text.tflite", "translator_ids.tflite"])
def test_truncated_tflite(run_copy, name):
    truncate(run_copy / "tflite" / name)
    backend = "tflite" if "text" in name else "tflite_ids"
    with pytest.raises(ValueError, match=rf"{name} is damaged"):
        load(run_copy, backend)


def test_truncated_saved_model_variables(run_copy):
    truncate(run_copy / "saved_model" / "1" / "variables" / "variables.data-00000-of-00001", 0.1)
    with pytest.raises(ValueError, match=r"saved_model/1 is damaged"):
        load(run_copy, "saved_model")


def test_missing_or_damaged_tokenizer(run_copy):
    (run_copy / "tokenizer.model").write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match=r"tokenizer\.model: Not a SentencePiece model"):
        load(run_copy, "keras")
    (run_copy / "tokenizer.model").unlink()
    with pytest.raises(FileNotFoundError, match=r"tokenizer\.model not found"):
        load(run_copy, "keras")


def test_config_from_another_version_or_damaged(run_copy):
    config = json.loads((run_copy / "config.json").read_text())
    (run_copy / "config.json").write_text(json.dumps({**config, "format_version": 0}))
    with pytest.raises(ValueError, match="format_version=0"):
        RunDirectory(run_copy).config
    (run_copy / "config.json").write_text('{"format_version": 1, "sett')
    with pytest.raises(ValueError, match=r"config\.json is not valid JSON"):
        RunDirectory(run_copy).config
