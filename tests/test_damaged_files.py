"""Damaged or missing files give an error naming the file, never a crash."""

import json
import shutil

import pytest

from kseq.backends import BACKENDS, load
from kseq.run_directory import RunDirectory
from kseq.vocabulary import Vocabulary


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


SENTENCES = ["Hello.", "Hola.", "Ten books.", "Diez libros.", "It is one o'clock.", "Es la una."] * 20


@pytest.fixture(scope="module")
def foreign_vocabulary():
    """Another run's vocabulary: kseq's special ids, another size."""
    from kseq.vocabulary import learn_vocabulary

    return learn_vocabulary(SENTENCES, 48)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_vocabulary_of_another_size_names_both_files_and_sizes(run_copy, foreign_vocabulary, backend):
    size, expected = Vocabulary(foreign_vocabulary).size, RunDirectory(run_copy).config["model"]["vocabulary_size"]
    assert size != expected
    (run_copy / "tokenizer.model").write_bytes(foreign_vocabulary)
    with pytest.raises(ValueError, match=rf"^{run_copy}/tokenizer\.model has {size} pieces, but the model in "
                       rf"{run_copy}/model\.keras has {expected} source ids \(vocabulary_size in "
                       rf"{run_copy}/config\.json\): it is not the vocabulary"):
        load(run_copy, backend)


def test_the_ids_models_own_vocabulary_copy_is_checked(run_copy, foreign_vocabulary):
    (run_copy / "tflite" / "tokenizer.model").write_bytes(foreign_vocabulary)
    load(run_copy, "tflite")  # the text model reads the run's copy
    with pytest.raises(ValueError, match=rf"^{run_copy}/tflite/tokenizer\.model has \d+ pieces"):
        load(run_copy, "tflite_ids")


def test_a_vocabulary_with_other_special_ids_is_refused(run_copy):
    import io

    import sentencepiece

    proto = io.BytesIO()  # SentencePiece's default ids: unknown 0, start 1, end 2, no pad
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(SENTENCES), model_writer=proto, vocab_size=40,
                                             hard_vocab_limit=False, minloglevel=2)
    (run_copy / "tokenizer.model").write_bytes(proto.getvalue())
    with pytest.raises(ValueError, match=rf"^{run_copy}/tokenizer\.model reserves the ids pad -1, unknown 0, "
                       rf"start 1, end 2, but the model in {run_copy}/model\.keras reads pad 0, unknown 1, "
                       "start 2, end 3"):
        load(run_copy, "keras")


def test_a_foreign_vocabulary_ends_translate_and_serve_in_one_line(capsys, monkeypatch, run_copy, foreign_vocabulary):
    from conftest import run_kseq

    from kseq.served_model import ServedModel

    (run_copy / "tokenizer.model").write_bytes(foreign_vocabulary)
    code, _, err = run_kseq(capsys, "translate", run_copy, "--backend", "keras", stdin="Hello.\n",
                            monkeypatch=monkeypatch)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"kseq translate: error: {run_copy}/tokenizer.model has ")
    for backend in ("keras", "saved_model"):
        with pytest.raises(ValueError, match=r"tokenizer\.model has \d+ pieces, but the model in .*model\.keras"):
            ServedModel(run_copy, backend)


def test_a_separate_source_vocabulary_is_checked_against_the_source_size(tmp_path, foreign_vocabulary):
    size = Vocabulary(foreign_vocabulary).size
    config = {"format_version": 1, "settings": {},
              "model": {"vocabulary_size": size, "source_vocabulary_size": size + 8},
              "tokenizer": {"files": {"source": "source.model", "target": "target.model"}}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    for name in ("source.model", "target.model"):
        (tmp_path / name).write_bytes(foreign_vocabulary)
    with pytest.raises(ValueError, match=rf"source\.model has {size} pieces, .* has {size + 8} source ids "
                       r"\(source_vocabulary_size in "):
        RunDirectory(tmp_path).vocabularies()
    config["model"]["source_vocabulary_size"] = size
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert [v.size for v in RunDirectory(tmp_path).vocabularies()] == [size, size]
