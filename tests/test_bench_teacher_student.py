"""bench/teacher_student.sh on a CPU with `tiny` models: the chain's wiring, not its figures."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.slow
def test_the_chain_trains_distills_exports_and_scores_the_student_on_tflite(tmp_path):
    from kseq.builtin_corpus import builtin_pairs

    pairs = builtin_pairs()
    data = tmp_path / "data"
    data.mkdir()
    for split, rows in (("train", pairs[:1500]), ("valid", pairs[1500:1600]), ("test", pairs[1600:1700])):
        (data / f"{split}.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in rows), encoding="utf-8")
    out = tmp_path / "out"
    result = subprocess.run(
        ["bash", "bench/teacher_student.sh", str(data), str(out), "0.1", "0.1"], cwd=REPO,
        capture_output=True, text=True, timeout=600,
        # `python` in the script is this interpreter, with kseq importable.
        env=dict(os.environ, TEACHER_PRESET="tiny", STUDENT_PRESET="tiny", PYTHONPATH=str(REPO),
                 PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])))
    logs = out / "logs"
    assert result.returncode == 0, result.stdout[-3000:]
    sources = json.loads((logs / "teacher.json").read_text())["test_sources"]
    assert 0 < sources <= 100
    assert (logs / "teacher_beam.json").is_file()
    assert len((out / "student" / "distilled" / "train.tsv").read_text().splitlines()) > 1000
    for run in ("student", "control"):
        assert json.loads((out / run / "metrics.json").read_text())["keras"]["sentences"] == sources
    tflite = json.loads((logs / "student_tflite.json").read_text())
    assert tflite["sources"] == sources
    assert [row["file"] for row in tflite["rows"]] == ["translator_ids.tflite", "translator_ids_dynamic.tflite"]
