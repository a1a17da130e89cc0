import json
import os
import subprocess
import sys

import pytest

from conftest import REPO
from export.export_run import export_run, next_version


def test_writes_saved_model_tflite_and_what_a_phone_needs(tiny_export):
    assert os.path.isfile(tiny_export / "saved_model" / "1" / "saved_model.pb")
    names = set(os.listdir(tiny_export / "tflite"))
    for variant in ("", "_float16", "_dynamic"):
        assert {f"translator_text{variant}.tflite", f"translator_ids{variant}.tflite"} <= names
    assert {"tokenizer.model", "metadata.json"} <= names
    metadata = json.loads((tiny_export / "tflite" / "metadata.json").read_text())
    assert metadata["special_ids"] == {"pad": 0, "unknown": 1, "start": 2, "end": 3, "first_piece": 4}
    assert metadata["max_source_length"] == 40
    assert metadata["files"]["translator_ids.tflite"]["operators"]["custom"] == []
    assert not [n for n in os.listdir(tiny_export) if ".partial-" in n or ".old-" in n]  # no partial directory


def test_never_overwrites_silently(tiny_export):
    with pytest.raises(FileExistsError, match="--overwrite"):
        export_run(str(tiny_export), formats=("tflite",), log=lambda *_: None)
    assert next_version(tiny_export) == 2  # a new version, not a replacement


def test_command_line_errors_are_clear(tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "export", *args], cwd=REPO,
                              capture_output=True, text=True, timeout=300)

    missing = run(str(tmp_path))
    assert missing.returncode != 0 and "config.json not found" in missing.stderr
    unknown = run(str(tmp_path), "--formats", "onnx")
    assert unknown.returncode == 2 and "'onnx' is not one of" in unknown.stderr


def test_export_killed_half_way_leaves_the_previous_artifacts(tiny_export, tmp_path):
    import shutil
    import signal
    import time

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_export, run_dir)
    before = {p.name: p.read_bytes() for p in (run_dir / "tflite").iterdir()}
    process = subprocess.Popen(
        [sys.executable, "-m", "export", str(run_dir), "--overwrite", "--quantize", "float16,dynamic"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout.readline().startswith("Writing the SavedModel")
    time.sleep(3)  # inside the SavedModel write or the TFLite conversion
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert {p.name: p.read_bytes() for p in (run_dir / "tflite").iterdir()} == before
    visible = sorted(p.name for p in (run_dir / "saved_model").iterdir() if not p.name.startswith("."))
    assert visible in (["1"], ["1", "2"])  # a version appears whole or not at all
    if "2" in visible:
        assert (run_dir / "saved_model" / "2" / "saved_model.pb").exists()
