"""The device that trains: what it is, what its CPU computes natively, and a compilation cache kept across runs.

The defaults a device calls for are `TrainingConfig.with_device_defaults`'s.

Imports no TensorFlow unless the Keras backend is TensorFlow.
"""

import os

from kseq.cache import cache_dir


def accelerator():
    """"gpu", "tpu" or "cpu": the kind of the first device the Keras backend computes on."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.devices()[0].platform
    if backend == "tensorflow":
        import tensorflow as tf

        return "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    if backend == "torch":
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"
    return "cpu"


# x86 flags (Linux's /proc/cpuinfo) of a CPU with bfloat16 dot products, which oneDNN uses.
BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def cpu_computes_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU multiplies in bfloat16 natively (AVX512-BF16 or AMX); False where unknown."""
    try:
        with open(cpuinfo) as f:
            flags = next((line.partition(":")[2].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return not BFLOAT16_CPU_FLAGS.isdisjoint(flags)


def default_compilation_cache_dir():
    """Where compiled steps are kept between runs: $XDG_CACHE_HOME/kseq/jax (~/.cache/kseq/jax)."""
    return cache_dir("jax")


def enable_compilation_cache(directory):
    """Keeps JAX's compiled train and test steps in `directory`, so a second run of the same shapes
    compiles nothing. Returns whether a cache is on (only JAX keeps one: TensorFlow's XLA does not)."""
    import keras

    if keras.backend.backend() != "jax":
        return False
    import jax

    os.makedirs(directory, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", directory)
    # Every step's compilation is worth keeping, however short on a small model.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return True
