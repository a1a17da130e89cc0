import json

import pytest

from kseq import run_directory as rd


def test_a_trained_run_directory_loads(tiny_run):
    run_dir, _ = tiny_run
    config = rd.load_config(run_dir)
    source, target = rd.load_tokenizers(run_dir, config)
    assert source.proto == target.proto  # joint vocabulary by default
    model = rd.load_model(run_dir)
    assert model.get_config() == config["model"]


def test_missing_files_are_named(tmp_path, tiny_run):
    with pytest.raises(FileNotFoundError, match="config.json"):
        rd.load_config(tmp_path)
    run_dir, _ = tiny_run
    config = rd.load_config(run_dir)
    with pytest.raises(FileNotFoundError, match="tokenizer.model"):
        rd.load_tokenizers(tmp_path, config)
    with pytest.raises(FileNotFoundError, match="model.keras"):
        rd.load_model(tmp_path)


def test_incompatible_config_version_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ValueError, match="format_version=99"):
        rd.load_config(tmp_path)


def test_json_is_written_atomically(tmp_path):
    path = tmp_path / "metrics.json"
    rd.write_json(path, {"bleu": 1.5, "text": "¿Qué?"})
    assert rd.read_json(path) == {"bleu": 1.5, "text": "¿Qué?"}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_two_runs_racing_for_one_directory_get_one_claim(tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert rd.prepare(str(out)) == str(out)
    # The second run looked before the first had written anything: the claim still refuses it.
    monkeypatch.setattr(rd.os, "listdir", lambda path: [])
    with pytest.raises(SystemExit, match="claimed by another kseq run"):
        rd.prepare(str(out))
