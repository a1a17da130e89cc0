import ast
import json
import pathlib
import shutil
import subprocess
import sys

import pytest
from conftest import REPO, run_kseq

from kseq.commands import COMMANDS

kseq = run_kseq


def test_help_answers_at_once_without_tensorflow_or_start_up_logging():
    check = ("import sys; from kseq.commands import main\n"
             "try: main(['--help'])\nexcept SystemExit: pass\n"
             "try: main(['train', '--help'])\nexcept SystemExit: pass\n"
             "print(sorted(m for m in ('tensorflow', 'keras', 'jax') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", check], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == ""
    assert "usage: kseq train" in result.stdout and result.stdout.strip().endswith("[]")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(capsys, command):
    code, out, _ = kseq(capsys, command, "--help")
    assert code == 0 and out.startswith(f"usage: kseq {command}")


def test_unknown_command_lists_the_valid_ones(capsys):
    code, _, err = kseq(capsys, "fly")
    assert code == 2 and "translate" in err and "evaluate" in err


def test_translate_streams_stdin_identically_on_float32_backends(capsys, monkeypatch, tiny_export, tiny_keras):
    lines = ["Where is the station?", "Ten books.", ""]
    expected = tiny_keras.translate(lines)[0]
    for backend in ("keras", "saved_model", "tflite", "tflite_ids"):
        code, out, err = kseq(capsys, "translate", str(tiny_export), "--backend", backend,
                              stdin="\n".join(lines) + "\n", monkeypatch=monkeypatch)
        assert code == 0, err[-2000:]
        assert out.split("\n")[:3] == expected, backend


def test_translate_arguments(capsys, tiny_export):
    code, out, _ = kseq(capsys, "translate", str(tiny_export), "Ten books.", "Two cats.", "--backend", "tflite",
                        "--variant", "dynamic")
    assert code == 0 and len(out.strip().split("\n")) == 2
    code, out, err = kseq(capsys, "translate", str(tiny_export), "Ten books.", "--json", "--beam-width", "2")
    assert code == 0, err[-2000:]
    assert list(json.loads(out)) == ["translation_text"]  # keyed by the run's task


def test_evaluate_all_backends_prints_a_table_and_writes_json(capsys, tiny_export, tmp_path):
    data = tmp_path / "test.tsv"
    data.write_text("Ten books.\tDiez libros.\nTwo cats.\tDos gatos.\nTwo cats.\tDos gatas.\n", encoding="utf-8")
    out = tmp_path / "evaluation.json"
    code, stdout, stderr = kseq(capsys, "evaluate", str(tiny_export), "--data", str(data), "--backend", "all",
                                "--json", str(out))
    assert code == 0, stderr[-2000:]
    results = json.loads(out.read_text())["results"]
    assert [(r["backend"], r["variant"]) for r in results] == [
        ("keras", "float32"), ("saved_model", "float32"),
        ("tflite", "float32"), ("tflite", "float16"), ("tflite", "dynamic"),
        ("tflite_ids", "float32"), ("tflite_ids", "float16"), ("tflite_ids", "dynamic")]
    assert all(r["sentences"] == 2 and r["sentences_per_second"] > 0 for r in results)
    for r in results:
        assert f"{r['bleu']:>6.2f}" in stdout
    float32 = [r["bleu"] for r in results if r["variant"] == "float32"]
    assert len(set(float32)) == 1


def test_attention_writes_a_png(capsys, tiny_export, tmp_path):
    out = tmp_path / "attention.png"
    code, _, err = kseq(capsys, "attention", str(tiny_export), "She bought twenty-one houses.", "--out", str(out))
    assert code == 0, err[-2000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_errors_end_in_one_line_naming_the_file_and_the_fix(capsys, tiny_run, tmp_path):
    run_dir = tmp_path / "run"  # the run without its exports
    shutil.copytree(tiny_run[0], run_dir, ignore=shutil.ignore_patterns("saved_model", "tflite"))
    code, _, err = kseq(capsys, "translate", str(tmp_path), "Hi.")
    assert code == 1 and err == f"kseq translate: error: {tmp_path}/config.json not found: is {tmp_path} a run " \
        f"directory? `kseq train --out {tmp_path}` makes one.\n"
    code, _, err = kseq(capsys, "translate", str(run_dir), "Hi.", "--backend", "saved_model")
    assert code == 1 and "holds no SavedModel" in err and "kseq export" in err and err.count("\n") == 1
    code, _, err = kseq(capsys, "translate", str(run_dir), "Hi.", "--backend", "onnx")
    assert code == 2 and "tflite_ids" in err


@pytest.mark.slow
def test_a_real_process_prints_no_tensorflow_start_up_logging(tiny_run):
    run_dir, _ = tiny_run
    result = subprocess.run([sys.executable, "-m", "kseq", "translate", str(run_dir), "Ten books."], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.count("\n") == 1
    assert result.stderr == "", result.stderr  # no oneDNN, CUDA or absl lines


def imports(path):
    """The modules a Python file imports (absolute names)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_dependencies_point_one_way():
    """kseq's library never imports export/ or the command layer; export/ never imports the command layer."""
    against = []
    for path in sorted((REPO / "kseq").rglob("*.py")):
        if "commands" in path.parts or path.name == "__main__.py":
            continue
        against += [f"{path.relative_to(REPO)} imports {name}" for name in imports(path)
                    if name.split(".")[0] == "export" or name.startswith("kseq.commands")]
    for path in sorted((REPO / "export").glob("*.py")):
        if path.name != "__main__.py":
            against += [f"{path.relative_to(REPO)} imports {name}" for name in imports(path)
                        if name.startswith("kseq.commands")]
    assert against == []


def test_entry_points_are_thin_wrappers_over_the_command_tree():
    for wrapper in (pathlib.Path("train.py"), pathlib.Path("export/__main__.py")):
        assert imports(REPO / wrapper) == {"sys", "kseq.commands"}, wrapper
