"""The package as a whole, each check in a fresh process: the defaults `import kseq` gives
TensorFlow, and every module outside `kseq.tf` importing without TensorFlow."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from conftest import REPO

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


# Run first in each process: TensorFlow, TF Text and tf_keras cannot be imported, and each attempt
# is noted with the file that made it (libraries such as keras-hub try them and carry on without).
WITHOUT_TENSORFLOW = """
import importlib.abc, inspect, os, sys

BLOCKED = ("tensorflow", "tensorflow_text", "tf_keras")
attempts = []


class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in BLOCKED:
            return None
        importer = next((frame.filename for frame in inspect.stack(context=0)[1:]
                         if not frame.filename.startswith("<frozen")
                         and os.path.basename(os.path.dirname(frame.filename)) != "importlib"), "?")
        attempts.append([name, importer])
        raise ImportError(f"No module named {name!r} (made unimportable by the test)")


sys.meta_path.insert(0, NoTensorFlow())
"""

IMPORT_MODULES = WITHOUT_TENSORFLOW + """
import importlib, json, pkgutil, traceback

import kseq

results = {}
for info in pkgutil.walk_packages(kseq.__path__, "kseq.", onerror=lambda name: None):
    if info.name == "kseq.__main__":  # runs the command line: checked by the `--help` test
        continue
    try:
        importlib.import_module(info.name)
        results[info.name] = None
    except ImportError:
        results[info.name] = traceback.format_exc(limit=-3)
print(json.dumps({"modules": results, "attempts": attempts}))
"""

KERAS_ON_JAX = {**os.environ, "KERAS_BACKEND": "jax"}  # Keras' TensorFlow backend imports TensorFlow


def import_without_tensorflow():
    """{"modules": {name: None, or the ImportError's traceback}, "attempts": [[module, importing file]]}."""
    output = subprocess.run([sys.executable, "-c", IMPORT_MODULES], cwd=REPO, env=KERAS_ON_JAX, check=True,
                            capture_output=True, text=True, timeout=300).stdout
    return json.loads(output.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def imported_without_tensorflow():
    pytest.importorskip("jax")
    return import_without_tensorflow()


def module_names(directory, package):
    """The dotted names of the .py files under `directory` (a package), found on disk."""
    names = set()
    for path in pathlib.Path(directory).rglob("*.py"):
        parts = path.relative_to(directory).with_suffix("").parts
        names.add(".".join((package, *parts[:-1])) if parts[-1] == "__init__" else ".".join((package, *parts)))
    return names


def test_every_module_outside_kseq_tf_imports_without_tensorflow(imported_without_tensorflow):
    modules = imported_without_tensorflow["modules"]
    expected = {name for name in module_names(REPO / "kseq", "kseq")
                if not name.startswith("kseq.tf.") and name not in ("kseq", "kseq.__main__")}
    assert expected - set(modules) == set()  # every file was found, kseq.commands' included
    failed = {name: error for name, error in modules.items() if error and not name.startswith("kseq.tf.")}
    assert failed == {}
    # Not even a guarded attempt: a module of kseq outside kseq/tf/ must not try TensorFlow at import.
    kseq_dir = str(REPO / "kseq")
    tried = [(name, importer) for name, importer in imported_without_tensorflow["attempts"]
             if importer.startswith(kseq_dir) and not importer.startswith(str(REPO / "kseq" / "tf"))]
    assert tried == []


def test_every_module_of_kseq_tf_needs_tensorflow(imported_without_tensorflow):
    """The other side of the line: what needs no TensorFlow belongs outside kseq/tf/."""
    modules = imported_without_tensorflow["modules"]
    wing = {name for name in module_names(REPO / "kseq" / "tf", "kseq.tf") if name != "kseq.tf"}
    assert wing and wing <= set(modules)
    imported = [name for name in sorted(wing) if modules[name] is None]
    assert imported == []
    assert all("tensorflow" in modules[name] for name in wing)


@pytest.mark.parametrize("command", [["--help"], ["train", "--help"]], ids=["kseq", "kseq-train"])
def test_the_command_line_helps_without_tensorflow(command):
    pytest.importorskip("jax")
    run_kseq = WITHOUT_TENSORFLOW + "import runpy; runpy.run_module('kseq', run_name='__main__')"
    result = subprocess.run([sys.executable, "-c", run_kseq, *command], cwd=REPO, env=KERAS_ON_JAX,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    usage = " ".join(["usage: kseq", *command[:-1]])
    assert result.stdout.startswith(usage)
    assert "--preset" in result.stdout if command == ["train", "--help"] else "translate" in result.stdout


def test_the_top_level_names_are_the_modules_own():
    import kseq
    from kseq.backends import load
    from kseq.run_directory import RunDirectory
    from kseq.training import train
    from kseq.training_config import TrainingConfig
    from kseq.translation_pipeline import pipeline

    assert (kseq.load, kseq.pipeline, kseq.train, kseq.TrainingConfig, kseq.RunDirectory) == (
        load, pipeline, train, TrainingConfig, RunDirectory)
    with pytest.raises(AttributeError, match="no attribute 'Trainer'"):
        kseq.Trainer
