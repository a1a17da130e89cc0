import json
import subprocess
import sys

import pytest

from conftest import REPO


def kseq(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "kseq.cli", *args], input=stdin, cwd=REPO,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("command", ["train", "export", "translate", "evaluate", "attention"])
def test_every_command_has_help(command):
    result = kseq(command, "--help")
    assert result.returncode == 0 and "usage:" in result.stdout


def test_unknown_command_lists_the_valid_ones():
    result = kseq("fly")
    assert result.returncode == 2 and "translate" in result.stderr and "evaluate" in result.stderr


def test_translate_streams_stdin_identically_on_float32_backends(tiny_export, tiny_keras):
    lines = ["Where is the station?", "Ten books.", ""]
    expected = tiny_keras.translate(lines)[0]
    for backend in ("keras", "saved_model", "tflite", "tflite_ids"):
        result = kseq("translate", str(tiny_export), "--backend", backend, stdin="\n".join(lines) + "\n")
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.split("\n")[:3] == expected, backend


def test_translate_arguments(tiny_export, tiny_keras):
    result = kseq("translate", str(tiny_export), "Ten books.", "Two cats.", "--backend", "tflite", "--variant", "dynamic")
    assert result.returncode == 0 and len(result.stdout.strip().split("\n")) == 2
    labelled = kseq("translate", str(tiny_export), "Ten books.", "--json", "--beam-width", "2")
    assert labelled.returncode == 0, labelled.stderr[-2000:]
    assert list(json.loads(labelled.stdout)) == ["translation_text"]  # keyed by the run's task


def test_evaluate_all_backends_prints_a_table_and_writes_json(tiny_export, tmp_path):
    data = tmp_path / "test.tsv"
    data.write_text("Ten books.\tDiez libros.\nTwo cats.\tDos gatos.\nTwo cats.\tDos gatas.\n", encoding="utf-8")
    out = tmp_path / "evaluation.json"
    result = kseq("evaluate", str(tiny_export), "--data", str(data), "--backend", "all", "--json", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads(out.read_text())["results"]
    assert [(r["backend"], r["variant"]) for r in results] == [
        ("keras", "float32"), ("saved_model", "float32"),
        ("tflite", "float32"), ("tflite", "float16"), ("tflite", "dynamic"),
        ("tflite_ids", "float32"), ("tflite_ids", "float16"), ("tflite_ids", "dynamic")]
    assert all(r["sentences"] == 2 and r["sentences_per_second"] > 0 for r in results)
    for r in results:
        assert f"{r['bleu']:>6.2f}" in result.stdout
    float32 = [r["bleu"] for r in results if r["variant"] == "float32"]
    assert len(set(float32)) == 1


def test_attention_writes_a_png(tiny_export, tmp_path):
    out = tmp_path / "attention.png"
    result = kseq("attention", str(tiny_export), "She bought twenty-one houses.", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_artifacts_and_bad_backends_are_explained(tiny_run, tmp_path):
    run_dir, _ = tiny_run
    not_a_run = kseq("translate", str(tmp_path), "Hi.")
    assert not_a_run.returncode != 0 and "config.json not found" in not_a_run.stderr
    bad_backend = kseq("translate", str(run_dir), "Hi.", "--backend", "onnx")
    assert bad_backend.returncode == 2 and "tflite_ids" in bad_backend.stderr
