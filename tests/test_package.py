"""`import kseq`: the defaults it gives TensorFlow, each checked in a fresh process."""

import json
import os
import subprocess
import sys

import pytest

# What TensorFlow will read, and whether its CPU allocator is then a BFC pool: only a pool counts
# the bytes it handed out. Without one, `get_memory_info` raises on most CPUs but answers zeros
# where oneDNN runs on AVX-512, so the probe asks for a peak above zero, not for an answer.
ALLOCATOR_PROBE = """
import json, os, kseq
setting = os.environ.get("TF_CPU_ALLOCATOR_USE_BFC")
import tensorflow as tf
tf.constant([1.0]) + 1.0
try:
    pool = tf.config.experimental.get_memory_info("CPU:0")["peak"] > 0
except ValueError:
    pool = False
print(json.dumps({"setting": setting, "pool": pool}))
"""


def run_probe(**environment):
    env = {key: value for key, value in os.environ.items() if key != "TF_CPU_ALLOCATOR_USE_BFC"}
    env.update(environment)
    output = subprocess.run([sys.executable, "-c", ALLOCATOR_PROBE], env=env, check=True,
                            capture_output=True, text=True, timeout=120).stdout
    return json.loads(output.strip().splitlines()[-1])


def test_importing_kseq_gives_tensorflow_its_bfc_pool_on_the_cpu():
    pytest.importorskip("tensorflow")
    assert run_probe() == {"setting": "true", "pool": True}


@pytest.mark.parametrize("choice", ["false", "0"])
def test_a_user_who_set_the_allocator_keeps_their_choice(choice):
    pytest.importorskip("tensorflow")
    assert run_probe(TF_CPU_ALLOCATOR_USE_BFC=choice) == {"setting": choice, "pool": False}
