"""How training spreads over devices: one, every local one (TensorFlow or JAX), or several machines.

This module imports neither Keras nor TensorFlow (`kseq train --help` reads `STRATEGIES`):
TensorFlow's strategies live in `kseq.tf.strategies`, imported by the functions that use them.
"""

import contextlib
import json
import os

from kseq.errors import UsageError

STRATEGIES = ("none", "mirrored", "multi_worker", "data_parallel")


def make_strategy(name):
    """The strategy for `train.py --distribute NAME`: something with `scope()` and `num_replicas_in_sync`.

    - `none`: one device (TensorFlow's default strategy on TensorFlow).
    - `mirrored`: `MirroredStrategy` over every local GPU, or over the logical
      CPU devices when there is no GPU (so tests can run it on a CPU). Each
      batch the dataset yields is the global batch, split across replicas.
    - `multi_worker`: `MultiWorkerMirroredStrategy` over the machines that
      `TF_CONFIG` lists, every local GPU on each. Every worker builds the
      same batches and takes its replicas' shares of each. Create it before
      any other TensorFlow op runs.
    - `data_parallel`: Keras' `DataParallel` distribution on JAX: each batch
      split over every local device, the weights replicated.
    """
    if name not in STRATEGIES:
        raise UsageError(f"`--distribute` must be one of {', '.join(STRATEGIES)}. Received: {name!r}")
    import keras

    backend = keras.backend.backend()
    if name == "data_parallel":
        if backend != "jax":
            raise UsageError(f"`--distribute data_parallel` runs on the JAX backend (KERAS_BACKEND=jax); "
                             f"this is {backend}: use `--distribute mirrored` there.")
        return DataParallel()
    if backend != "tensorflow":
        if name != "none":
            raise UsageError(f"`--distribute {name}` is a TensorFlow strategy; this is the {backend} "
                             "backend: use `--distribute data_parallel` there.")
        return SingleDevice()
    from kseq.tf.strategies import make_tf_strategy  # TensorFlow's own, on its backend only

    return make_tf_strategy(name)


class SingleDevice:
    """No distribution, on a backend without `tf.distribute`."""

    num_replicas_in_sync = 1

    def scope(self):
        return contextlib.nullcontext()


class DataParallel:
    """`keras.distribution.DataParallel` over every local device, shaped as a strategy.

    Set globally on creation (Keras places variables and batches when they
    are made); rows per batch must be a multiple of `num_replicas_in_sync`.
    """

    def __init__(self):
        import keras

        self.distribution = keras.distribution.DataParallel()
        keras.distribution.set_distribution(self.distribution)
        self.num_replicas_in_sync = len(keras.distribution.list_devices())

    def scope(self):
        return self.distribution.scope()


def is_chief():
    """Whether this process writes the run directory: the `chief` task, else worker 0 (or no cluster)."""
    config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    task = config.get("task", {})
    if not task:
        return True
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0


def num_workers():
    """The number of machines in TF_CONFIG's cluster (1 without one)."""
    cluster = json.loads(os.environ.get("TF_CONFIG") or "{}").get("cluster", {})
    return max(1, len(cluster.get("chief", [])) + len(cluster.get("worker", [])))

