import csv
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO


def run_train(*args, cwd=REPO):
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_tiny_run_writes_the_run_directory(tiny_run):
    run_dir, metrics = tiny_run
    names = set(os.listdir(run_dir))
    assert {"config.json", "tokenizer.model", "model.keras", "metrics.json", "history.csv", "logs", "curves.png"} <= names
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert 0 <= saved["keras"]["bleu"] <= 100 and 0 < saved["keras"]["chrf"] <= 100
    with open(run_dir / "history.csv") as f:
        history = list(csv.DictReader(f))
    assert len(history) == 3
    assert float(history[-1]["loss"]) < float(history[0]["loss"])


def test_train_py_smoke_run(tmp_path):
    out = tmp_path / "run"
    result = run_train("--preset", "tiny", "--epochs", "1", "--out", str(out), "--no-export")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Test: BLEU" in result.stdout
    assert {"config.json", "tokenizer.model", "model.keras", "metrics.json", "history.csv"} <= set(os.listdir(out))
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"bleu", "chrf", "exact_match"} <= set(metrics["keras"])
    # A second run into the same directory refuses to overwrite it.
    again = run_train("--preset", "tiny", "--epochs", "1", "--out", str(out), "--no-export")
    assert again.returncode != 0 and "already exists" in again.stderr


def test_malformed_tsv_stops_with_file_and_line(tmp_path):
    data = tmp_path / "pairs.tsv"
    data.write_text("Hi.\tHola.\nRun!\t¡Corre!\nno tab on this line\n", encoding="utf-8")
    result = run_train("--preset", "tiny", "--data", str(data), "--out", str(tmp_path / "run"))
    assert result.returncode != 0
    assert f"{data}:3: no tab" in result.stderr
    assert "Traceback" not in result.stderr


def test_unwritable_out_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_train("--preset", "tiny", "--out", str(blocker / "run"))
    assert result.returncode != 0 and "Cannot write to --out" in result.stderr
