"""`import kseq`: the defaults it gives TensorFlow, each checked in a fresh process."""

import json
import os
import subprocess
import sys

import pytest

# Whether TensorFlow's CPU allocator is a BFC pool: only a pool keeps the statistics
# `get_memory_info` reads; malloc's allocator has none and it raises.
ALLOCATOR_PROBE = """
import json, os, kseq, tensorflow as tf
tf.constant([1.0]) + 1.0
try:
    tf.config.experimental.get_memory_info("CPU:0")
    pool = True
except ValueError:
    pool = False
print(json.dumps({"setting": os.environ.get("TF_CPU_ALLOCATOR_USE_BFC"), "pool": pool}))
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


def test_a_user_who_set_the_allocator_keeps_their_choice():
    pytest.importorskip("tensorflow")
    assert run_probe(TF_CPU_ALLOCATOR_USE_BFC="false") == {"setting": "false", "pool": False}
