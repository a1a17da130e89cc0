"""How training spreads over devices: one, every local one (TensorFlow or JAX), or several machines.

TensorFlow is imported only by the TensorFlow strategies.
"""

import contextlib
import json
import os

from kseq.errors import UsageError
from kseq.library_internals import replace_symbolic_build, symbolic_build

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
    import tensorflow as tf

    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise UsageError("`--distribute multi_worker` needs TF_CONFIG: the cluster's workers "
                             "and this one's index (see the README: \"One training path\").")
        return tf.distribute.MultiWorkerMirroredStrategy()


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


def shard_batches(dataset):
    """Shards each batch across the workers' replicas (the batches are the same on every worker, same seed).

    Said explicitly: the default policy looks for files to shard first, and warns.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)


def fit_across_workers(model):
    """Works around Keras 3.15's `fit()` under `MultiWorkerMirroredStrategy` (keras-team/keras#20585).

    Keras all-reduces the first batch to build the model's metrics and loss, which
    fails as workers hold batches of different shapes: this builds them from the
    local batch. Then it averages each step's logs across replicas along axis 0,
    which scalars lack: the steps here return them with one axis. Written by hand
    because Keras offers no hook for either; remove it once Keras fixes them.
    """
    import tensorflow as tf

    strategy = model.distribute_strategy

    def build_from_local_batch(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = tf.nest.map_structure(
                    lambda value: strategy.experimental_local_results(value)[0], next(batches))
                break
        with strategy.scope():
            symbolic_build(model, data_batch)

    def with_an_axis(step):
        from keras import ops

        return lambda data: {name: ops.reshape(value, (1,)) for name, value in step(data).items()}

    replace_symbolic_build(model, build_from_local_batch)
    model.train_step = with_an_axis(model.train_step)
    model.test_step = with_an_axis(model.test_step)


def split_cpu(count):
    """Splits the CPU into `count` logical devices; call before TensorFlow starts."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
