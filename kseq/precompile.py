"""Every batch shape's train and test step compiled at once, before `fit()` needs them (JAX).

`fit()` compiles a step the first time it meets a batch shape, one after
another, each while the accelerator waits (BENCHMARKS.md has the times).
Here they are all lowered and compiled together in threads (XLA compiles
without Python's lock) into JAX's persistent compilation cache, where
`fit()` then finds them: its own compilations become cache reads.
"""

import time
from concurrent.futures import ThreadPoolExecutor

from kseq.library_internals import symbolic_build


def precompile_steps(model, train_batches, valid_batches, log=print):
    """Compiles `model`'s train step for each shape of `train_batches` and its test step
    for each shape of `valid_batches` (`kseq.batching.LengthBatches`) into JAX's cache.

    Needs the persistent compilation cache (`kseq.device.enable_compilation_cache`)
    and a compiled model on Keras' JAX backend with `jit_compile`. Returns the seconds
    taken, or None without the cache, where compiling ahead would only compile twice.
    """
    import jax

    if not jax.config.jax_compilation_cache_dir:
        return None
    started = time.perf_counter()
    train_examples, valid_examples = train_batches.one_batch_per_shape(), valid_batches.one_batch_per_shape()
    # fit() builds the metrics' variables from its first batch before the first step; so does this,
    # so that the state has its shape.
    symbolic_build(model, train_examples[0])
    values = lambda variables: [variable.value for variable in variables]  # noqa: E731
    trainable, non_trainable = values(model.trainable_variables), values(model.non_trainable_variables)
    optimizer, metrics = values(model.optimizer.variables), values(model.metrics_variables)
    # As Keras' JAX trainer jits them (`make_train_function`): the same module, the same cache key.
    train_step = jax.jit(model.train_step, donate_argnums=0)
    test_step = jax.jit(model.test_step, donate_argnums=0)
    jobs = ([(train_step, (trainable, non_trainable, optimizer, metrics), batch) for batch in train_examples]
            + [(test_step, (trainable, non_trainable, metrics), batch) for batch in valid_examples])
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        for future in [pool.submit(lambda step, state, batch: step.lower(state, batch).compile(), *job)
                       for job in jobs]:
            future.result()
    seconds = time.perf_counter() - started
    log(f"Compiled {len(train_examples)} train and {len(valid_examples)} test step shapes at once "
        f"in {seconds:.1f} s.")
    return seconds
