import csv
import subprocess
import sys

import pytest

from conftest import REPO

# Two logical CPU devices must exist before TensorFlow starts: a fresh process.
MIRRORED_TRAIN = """
import sys
from kseq.distribution import split_cpu
split_cpu(2)
from kseq.training import main
main(sys.argv[1:])
"""


def losses(run_dir):
    with open(run_dir / "history.csv", newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def test_mirrored_on_two_cpu_devices_matches_one_device(tiny_run, tmp_path):
    single_dir, _ = tiny_run  # the tiny preset, 3 epochs, on one device
    out = tmp_path / "mirrored"
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_TRAIN, "--preset", "tiny", "--epochs", "3",
         "--distribute", "mirrored", "--out", str(out), "--no-export"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Distributed: 2 replicas (MirroredStrategy)" in result.stdout
    mirrored, single = losses(out), losses(single_dir)
    assert len(mirrored) == 3 and mirrored[0] > mirrored[1] > mirrored[2]
    # Same global batches, split in two: the same training up to float sums.
    assert mirrored[-1] == pytest.approx(single[-1], rel=0.07)


def test_unknown_strategy_is_refused():
    from kseq.distribution import make_strategy

    with pytest.raises(ValueError, match="none, mirrored"):
        make_strategy("multi_worker")
