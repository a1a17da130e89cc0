"""TensorFlow's distribution strategies, and what Keras' `fit()` needs to train under them.

`kseq.distribution.make_strategy` calls `make_tf_strategy` on the TensorFlow backend.
"""

import os

import tensorflow as tf
from keras import ops

from kseq.errors import UsageError
from kseq.library_internals import replace_symbolic_build, symbolic_build


def make_tf_strategy(name):
    """`tf.distribute`'s strategy for `--distribute NAME` ("none", "mirrored" or "multi_worker").

    Create it before any other TensorFlow op runs (`MultiWorkerMirroredStrategy` must be first).
    """
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise UsageError("`--distribute multi_worker` needs TF_CONFIG: the cluster's workers "
                             "and this one's index (see the README: \"GPU\").")
        return tf.distribute.MultiWorkerMirroredStrategy()


def shard_batches(dataset):
    """Shards each batch across the workers' replicas (the batches are the same on every worker, same seed).

    Said explicitly: the default policy looks for files to shard first, and warns.
    """
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
        return lambda data: {name: ops.reshape(value, (1,)) for name, value in step(data).items()}

    replace_symbolic_build(model, build_from_local_batch)
    model.train_step = with_an_axis(model.train_step)
    model.test_step = with_an_axis(model.test_step)


def split_cpu(count):
    """Splits the CPU into `count` logical devices; call before TensorFlow starts."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
