"""bench/gpu_check.sh on a CPU with `tiny`: the GPU check's dry run, and the bound on its compilations."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.slow
def test_the_gpu_check_dry_run_compiles_decoding_at_most_four_times_and_reports(tmp_path):
    pytest.importorskip("jax")
    from kseq.builtin_corpus import builtin_pairs

    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in builtin_pairs()[:3000]), encoding="utf-8")
    out = tmp_path / "check"
    result = subprocess.run(
        ["bash", "bench/gpu_check.sh", str(data), str(out)], cwd=REPO, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHON=sys.executable, PRESET="tiny", EPOCHS="3", JAX_LOG_COMPILES="1",
                 EXTRA="--probe 100 --peak-tflops 1"))
    assert result.returncode == 0, result.stdout[-3000:]
    log = (out / "run.log").read_text()
    # bench/gpu_training.py's probe keeps one decoder for every epoch; evaluation builds its own:
    # two shapes each at most.
    assert 1 <= log.count("Compiling jit(decode)") <= 4
    # fit() reads every step from the cache the threads compiled into, before the first step.
    assert log.count("cache hit for 'jit_train_step'") == log.count("Compiling jit(train_step)") // 2 >= 1
    assert "Failed to apply cudnn" not in log
    figures = json.loads((out / "gpu_training.json").read_text())
    assert figures["compile_seconds"] > 0 and figures["compile_seconds_per_function"]["jit(train_step)"][0] >= 2
    assert len(figures["curve"]) == 3 and figures["target_tokens_per_second"] > 0
    assert (out / "profile.xplane.pb").stat().st_size > 0
    top = (out / "top_ops.md").read_text()  # bench/profile_top_ops.py on the trace
    assert "ms a step" in top and top.count("\n| `") >= 5
