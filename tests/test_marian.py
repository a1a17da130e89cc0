"""Marian checkpoints in kseq: against transformers' recorded outputs, through every export.

The fixture (tests/fixtures/marian/, made once by make_fixture.py with
transformers and PyTorch) is a tiny random Marian model with its logits and
greedy ids on fixed inputs; these tests need neither PyTorch nor the network.
"""

import csv
import json
import pathlib
import pickle
import shutil
import zipfile

import numpy as np
import pytest

from kseq.commands import main
from kseq.decoding import greedy_decode
from kseq.marian import CheckpointError, MarianCheckpoint, import_marian, read_state_dict
from kseq.special_ids import START_ID
from kseq.vocabulary import Vocabulary

FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "marian"
REFERENCE = np.load(FIXTURE / "reference.npz")
TEXTS = [str(text) for text in REFERENCE["texts"]]
MAX_LENGTH = int(REFERENCE["max_length"])
LOGITS_TOLERANCE = 1e-5  # absolute, on logits up to about 2.2 in size (float32 either side)


@pytest.fixture(scope="session")
def checkpoint():
    return MarianCheckpoint(FIXTURE / "tiny")


def kseq_inputs(vocabularies):
    """The recorded Marian source ids, decoder inputs and greedy ids in kseq's ids."""
    source = vocabularies.kseq_ids[REFERENCE["source_ids"]]
    decoder = vocabularies.kseq_ids[REFERENCE["decoder_inputs"]]
    decoder[:, 0] = START_ID  # Marian starts from its pad id
    return source, decoder, vocabularies.kseq_ids[REFERENCE["greedy_ids"]]


def test_keras_model_matches_the_recorded_logits_and_greedy_ids(checkpoint):
    model = checkpoint.to_keras(MAX_LENGTH)
    source, decoder, greedy = kseq_inputs(checkpoint.vocabularies)
    logits = np.asarray(model({"encoder_inputs": source, "decoder_inputs": decoder}))
    marian_order = logits[..., checkpoint.vocabularies.kseq_ids]
    np.testing.assert_allclose(marian_order, REFERENCE["logits"], atol=LOGITS_TOLERANCE, rtol=0)
    np.testing.assert_array_equal(np.asarray(greedy_decode(model, source, MAX_LENGTH)), greedy)
    uncached = np.asarray(greedy_decode(model, source, MAX_LENGTH, use_cache=False))
    np.testing.assert_array_equal(uncached, greedy)


def test_state_dict_reads_like_safetensors_without_unpickling_code(checkpoint, tmp_path):
    state = read_state_dict(FIXTURE / "pytorch_model.bin")
    assert {name.removeprefix("model.") for name in state} >= set(checkpoint.tensors)
    folder = tmp_path / "bin"
    shutil.copytree(FIXTURE / "tiny", folder)
    (folder / "model.safetensors").unlink()
    shutil.copy(FIXTURE / "pytorch_model.bin", folder)
    from_bin = MarianCheckpoint(folder)
    for name, tensor in checkpoint.tensors.items():
        np.testing.assert_array_equal(from_bin.tensors[name], tensor)

    # A pickle that would run code is refused, naming the file and the global.
    hostile = tmp_path / "hostile.bin"
    with zipfile.ZipFile(hostile, "w") as archive:
        archive.writestr("hostile/data.pkl", pickle.dumps(HostilePayload()))
    with pytest.raises(CheckpointError, match=r"hostile\.bin: refuses to unpickle (posix|os)\.system"):
        read_state_dict(hostile)


class HostilePayload:
    def __reduce__(self):
        import os

        return os.system, ("echo pwned",)


def test_vocabularies_tokenize_as_marian_in_python_and_in_tensorflow(checkpoint):
    from kseq.tf.tokenizer import Tokenizer

    vocabularies = checkpoint.vocabularies
    source_proto, target_proto = vocabularies.protos()
    pad = checkpoint.config["pad_token_id"]
    expected = [[int(i) for i in row if i != pad] for row in REFERENCE["source_ids"]]  # the end id kept
    python = Vocabulary(source_proto).encode(TEXTS)
    graph = Tokenizer(proto=source_proto)(TEXTS).to_list()
    assert python == graph
    # In Marian's ids: the pieces vocab.json lacks have ids of their own, with <unk>'s row.
    assert [vocabularies.marian_ids[row + [3]].tolist() for row in python] == expected
    target = Vocabulary(target_proto)
    assert target.special_ids == (0, 1, 2, 3) and target.size == vocabularies.size
    assert target.decode([target.encode(["Diez libros."])[0]]) == ["Diez libros."]


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + b"".join(blobs))


@pytest.mark.parametrize("damage, message", [
    ("shape", r"model\.safetensors: tensor 'encoder\.layers\.1\.fc1\.weight' has shape \[31, 16\], but "
              r".*config\.json implies \[32, 16\]"),
    ("missing", r"model\.safetensors: tensor 'decoder\.layers\.0\.encoder_attn\.k_proj\.bias' is missing"),
    ("foreign", r"model\.safetensors: tensor 'encoder\.layernorm_embedding\.weight' is not part of a Marian"),
    ("architecture", r"config\.json: model_type='bart'; kseq imports Marian"),
])
def test_bad_checkpoints_name_the_file_and_the_tensor(checkpoint, tmp_path, damage, message):
    folder = tmp_path / "bad"
    shutil.copytree(FIXTURE / "tiny", folder)
    tensors = {f"model.{name}": tensor for name, tensor in checkpoint.tensors.items()}
    if damage == "shape":
        tensors["model.encoder.layers.1.fc1.weight"] = tensors["model.encoder.layers.1.fc1.weight"][:31]
    elif damage == "missing":
        del tensors["model.decoder.layers.0.encoder_attn.k_proj.bias"]
    elif damage == "foreign":
        tensors["model.encoder.layernorm_embedding.weight"] = np.ones(16, np.float32)
    else:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "model_type": "bart"}))
    write_safetensors(folder / "model.safetensors", tensors)
    with pytest.raises(CheckpointError, match=message):
        MarianCheckpoint(folder)


def test_an_impossible_import_is_refused_before_the_run_directory_is_written(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["import", str(FIXTURE / "tiny"), "--out", str(tmp_path / "run"), "--max-length", "1"])
    err = capsys.readouterr().err
    assert exit.value.code == 2 and "--max-length 1" in err and "must be at least 2" in err
    assert not (tmp_path / "run").exists()


def test_import_then_export_decodes_as_marian_on_every_backend(tmp_path, capsys):
    from export.parity import check_parity
    from kseq.backends import load
    from kseq.run_directory import RunDirectory

    run_dir = tmp_path / "imported"
    main(["import", str(FIXTURE / "tiny"), "--out", str(run_dir), "--max-length", str(MAX_LENGTH)])
    main(["export", str(run_dir), "--quantize", "float16,dynamic"])
    run = RunDirectory(run_dir)
    vocabularies = MarianCheckpoint(FIXTURE / "tiny").vocabularies
    _, _, greedy = kseq_inputs(vocabularies)
    for backend in ("keras", "saved_model", "tflite", "tflite_ids"):
        _, ids = load(run_dir, backend).translate(TEXTS)
        np.testing.assert_array_equal(ids, greedy, err_msg=backend)
    for variant in ("float16", "dynamic"):
        _, ids = load(run_dir, "tflite_ids", variant).translate(TEXTS)
        assert ids.shape == greedy.shape
    metadata = json.loads(pathlib.Path(run.file("tflite", "metadata.json")).read_text())
    for name in ("translator_ids.tflite", "translator_ids_float16.tflite", "translator_ids_dynamic.tflite"):
        operators = metadata["files"][name]["operators"]
        assert operators["custom"] == [] and not any("Flex" in op for op in json.dumps(operators).split('"'))
    report = check_parity(str(run_dir), TEXTS)
    assert all(report[backend]["same_ids"] == 100.0 for backend in ("saved_model", "tflite", "tflite_ids"))


def test_fine_tuning_an_imported_model_lowers_its_validation_loss(tmp_path, capsys):
    from kseq.builtin_corpus import builtin_pairs

    imported = tmp_path / "imported"
    import_marian(str(FIXTURE / "tiny"), imported, max_length=64, log=lambda _: None)
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in builtin_pairs()[:1500]), encoding="utf-8")

    def validation_loss(out, learning_rate):
        main(["train", "--init", str(imported), "--data", str(data), "--out", str(out), "--preset", "tiny",
              "--epochs", "1", "--learning-rate", str(learning_rate), "--warmup-steps", "5",
              "--mixed-precision", "float32", "--no-export", "--eval-batch-size", "256"])
        with open(out / "history.csv", newline="") as f:
            return float(next(csv.DictReader(f))["val_loss"])

    untouched = validation_loss(tmp_path / "untouched", 0.0)  # the imported model's own loss
    tuned = validation_loss(tmp_path / "tuned", 3e-3)
    assert tuned < untouched - 0.2, (untouched, tuned)  # measured: 6.01 -> 5.58
    config = json.loads((tmp_path / "tuned" / "config.json").read_text())
    assert config["model"]["position_embedding"] == "sinusoidal" and config["settings"]["init"] == str(imported)
    assert (tmp_path / "tuned" / "source.model").read_bytes() == (imported / "source.model").read_bytes()
