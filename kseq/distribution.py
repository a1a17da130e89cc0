"""Which `tf.distribute` strategy trains the model: one device, or every local one."""

import tensorflow as tf

STRATEGIES = ("none", "mirrored")


def make_strategy(name):
    """The strategy for `train.py --distribute NAME`.

    - `none`: TensorFlow's default, one device.
    - `mirrored`: `MirroredStrategy` over every local GPU, or over the logical
      CPU devices when there is no GPU (so tests can run it on a CPU).

    Each batch the dataset yields is the global batch, split across replicas.
    (`MultiWorkerMirroredStrategy` is not offered: Keras 3's `fit()` fails
    under it with more than one worker, keras-team/keras#20585.)
    """
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    raise ValueError(f"`--distribute` must be one of {', '.join(STRATEGIES)}. Received: {name!r}")


def split_cpu(count):
    """Splits the CPU into `count` logical devices; call before TensorFlow starts."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
