import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO

from export.export_run import export_run
from kseq.commands import main
from kseq.run_directory import RunDirectory


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
    assert RunDirectory(tiny_export).next_saved_model_path().endswith("saved_model/2")  # a new version


def test_command_line_errors_are_clear(capsys, tmp_path):
    for args, code, message in (([str(tmp_path)], 1, "config.json not found"),
                                ([str(tmp_path), "--formats", "onnx"], 2, "'onnx' is not one of")):
        with pytest.raises(SystemExit) as exit:
            main(["export", *args])
        assert exit.value.code == code and message in capsys.readouterr().err


def partial_exports(run_dir):
    return [p for p in run_dir.rglob(".*") if ".partial-" in p.name]


def visible_versions(run_dir):
    return sorted(p.name for p in (run_dir / "saved_model").iterdir() if not p.name.startswith("."))


def held_write(hold, process):
    """The directory an export holds, written whole but not yet renamed into place (None: the export ended)."""
    while not hold.exists():
        if process.poll() is not None:
            return None
        time.sleep(0.05)
    return json.loads(hold.read_text())


@pytest.mark.slow
def test_export_killed_half_way_leaves_the_previous_artifacts(tiny_export, tmp_path):
    """Each artifact is held written but not yet in place: the SavedModel is let go, the TFLite write killed."""
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_export, run_dir)
    for path in (run_dir / "tflite").iterdir():  # unlike the new files, so one written in place would show
        path.write_bytes(b"the previous export's " + path.name.encode())
    before = {p.name: p.read_bytes() for p in (run_dir / "tflite").iterdir()}
    hold, log = tmp_path / "hold.json", tmp_path / "export.log"
    env = dict(os.environ, KSEQ_TEST_HOLD_BEFORE_RENAME=str(hold))
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "export", str(run_dir), "--overwrite", "--quantize", "float16,dynamic"],
            cwd=REPO, stdout=output, stderr=subprocess.STDOUT, env=env)
    try:
        assert held_write(hold, process) == str(run_dir / "saved_model" / "2"), log.read_text()[-3000:]
        assert visible_versions(run_dir) == ["1"]  # the new version is not there until it is whole
        hold.unlink()
        assert held_write(hold, process) == str(run_dir / "tflite"), log.read_text()[-3000:]
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
    assert process.wait() == -signal.SIGKILL  # killed while writing, not after it had finished
    assert {p.name: p.read_bytes() for p in (run_dir / "tflite").iterdir()} == before
    assert visible_versions(run_dir) == ["1", "2"] and (run_dir / "saved_model" / "2" / "saved_model.pb").exists()


@pytest.mark.slow
def test_a_full_disk_ends_in_one_line_and_keeps_the_earlier_artifacts(tiny_export, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(tiny_export, run_dir)
    before = {p.name: p.read_bytes() for p in (run_dir / "tflite").iterdir()}

    def small_files_only():  # a file may not grow past 64 kB: writes fail as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    for formats in ("tflite", "saved_model"):
        result = subprocess.run([sys.executable, "-m", "export", str(run_dir), "--overwrite", "--formats", formats],
                                cwd=REPO, capture_output=True, text=True, timeout=300, preexec_fn=small_files_only)
        assert result.returncode == 1, result.stderr[-3000:]
        error = result.stderr.strip().splitlines()
        assert len(error) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
        assert error[0].startswith(f"kseq export: error: No space left to write {run_dir}/{formats}")
        assert "MB, " in error[0] and "MB are free there" in error[0]
    assert {p.name: p.read_bytes() for p in (run_dir / "tflite").iterdir()} == before
    assert sorted(os.listdir(run_dir / "saved_model")) == ["1"] and not partial_exports(run_dir)
