"""The device that trains: what it is, the defaults it calls for, and a compilation cache kept across runs.

Imports no TensorFlow unless the Keras backend is TensorFlow.
"""

import os

from kseq.cache import cache_dir

# Positions per batch at least, on a GPU or TPU: a CPU-sized batch leaves most of the card idle.
ACCELERATOR_TOKENS_PER_BATCH = 16384


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


def default_mixed_precision(kind, backend):
    """bfloat16 compute (same range as float32: no loss scaling) on a GPU or TPU, and on TensorFlow
    on a CPU with bfloat16 dot products (1.13 times the steps in the 30-minute race on a Zen 4,
    BENCHMARKS.md); else float32."""
    if kind in ("gpu", "tpu") or (backend == "tensorflow" and cpu_computes_bfloat16()):
        return "mixed_bfloat16"
    return "float32"


def mixed_precision_setting(choice, kind, backend):
    """The `mixed_precision` setting for a `--mixed-precision` choice: "auto" resolved, float32 as None."""
    policy = default_mixed_precision(kind, backend) if choice == "auto" else choice
    return None if policy == "float32" else policy


def default_tokens_per_batch(preset_value, kind):
    """The preset's batch, raised to `ACCELERATOR_TOKENS_PER_BATCH` on a GPU or TPU."""
    return max(preset_value, ACCELERATOR_TOKENS_PER_BATCH) if kind in ("gpu", "tpu") else preset_value


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
