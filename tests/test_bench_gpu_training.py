"""bench/gpu_training.py on a CPU: the dry run of the GPU check, and the bound on its compilations."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO


@pytest.mark.slow
def test_a_tiny_jax_run_with_its_probe_compiles_decoding_at_most_four_times(tmp_path):
    pytest.importorskip("jax")
    from kseq.builtin_corpus import builtin_pairs

    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in builtin_pairs()[:3000]), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "bench/gpu_training.py", "--data", str(data), "--preset", "tiny", "--epochs", "3",
         "--probe", "100", "--peak-tflops", "1", "--out", str(tmp_path / "run"), "--json", str(tmp_path / "figures.json"),
         "--compilation-cache", str(tmp_path / "cache"), "--profile", str(tmp_path / "profile")],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, KERAS_BACKEND="jax", JAX_LOG_COMPILES="1"))
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stderr
    # The probe keeps one decoder for every epoch; evaluation builds its own: two shapes each at most.
    assert 1 <= log.count("Compiling jit(decode)") <= 4
    # fit() reads every step from the cache the threads compiled into, before the first step.
    assert log.count("cache hit for 'jit_train_step'") == log.count("Compiling jit(train_step)") // 2 >= 1
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["compile_seconds"] > 0 and figures["compile_seconds_per_function"]["jit(train_step)"][0] >= 2
    assert len(figures["curve"]) == 3 and figures["target_tokens_per_second"] > 0
    assert list((tmp_path / "profile").rglob("*.xplane.pb"))
    assert "Failed to apply cudnn" not in log
