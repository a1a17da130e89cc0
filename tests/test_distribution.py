import csv
import json
import os
import socket
import subprocess
import sys

import pytest
from conftest import REPO

# Two logical CPU devices must exist before TensorFlow starts: a fresh process.
MIRRORED_TRAIN = """
import sys
from kseq.tf.strategies import split_cpu
split_cpu(2)
from kseq.commands import main
main(["train", *sys.argv[1:]])
"""


def losses(run_dir):
    with open(run_dir / "history.csv", newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


@pytest.mark.slow
def test_mirrored_on_two_cpu_devices_matches_one_device(tiny_run, tiny_data, tmp_path):
    single_dir, _ = tiny_run  # the tiny preset, 3 epochs, on one device
    out = tmp_path / "mirrored"
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_TRAIN, "--preset", "tiny", "--epochs", "3", "--data", str(tiny_data),
         "--distribute", "mirrored", "--out", str(out), "--no-export"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Distributed (mirrored): 2 replicas on 1 worker." in result.stdout
    mirrored, single = losses(out), losses(single_dir)
    assert len(mirrored) == 3 and mirrored[0] > mirrored[1] > mirrored[2]
    # Same global batches, split in two: the same training up to float sums.
    assert mirrored[-1] == pytest.approx(single[-1], rel=0.07)


def test_unknown_strategy_is_refused():
    from kseq.distribution import make_strategy

    with pytest.raises(ValueError, match="none, mirrored, multi_worker"):
        make_strategy("multi-worker")


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_on_loopback_train_one_epoch_and_the_chief_writes_the_run(tmp_path):
    from kseq.builtin_corpus import builtin_pairs

    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{source}\t{target}\n" for source, target in builtin_pairs()[:4000]),
                    encoding="utf-8")
    workers = [f"localhost:{port}" for port in free_ports(2)]
    out = tmp_path / "run"
    command = [sys.executable, "train.py", "--preset", "tiny", "--epochs", "1", "--data", str(data),
               "--distribute", "multi_worker", "--out", str(out), "--no-export"]
    processes = [
        subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, TF_CONFIG=json.dumps(
                             {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})))
        for index in range(2)
    ]
    try:
        outputs = [process.communicate(timeout=600) for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
        assert "Distributed (multi_worker): 2 replicas on 2 workers." in stdout
    fingerprints = {line for stdout, _ in outputs for line in stdout.splitlines() if "sha256" in line}
    assert len(fingerprints) == 1  # both workers learned the same vocabulary
    assert len(losses(out)) == 1 and (out / "model.keras").is_file() and (out / "metrics.json").is_file()
    assert "the chief worker evaluates" in outputs[1][0]


def test_multi_worker_needs_tf_config(monkeypatch):
    from kseq.distribution import make_strategy

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        make_strategy("multi_worker")
