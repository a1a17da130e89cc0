"""The model and its training recipe (optimizer, schedule, loss) from a `TrainingConfig`.

Imports no TensorFlow: `kseq train` builds and compiles the same model on every Keras backend.
"""

import keras

from kseq.loss import SmoothedSparseCrossentropy
from kseq.model import Seq2SeqTransformer, dtype_policy


def build_model(config, vocabulary_size, source_vocabulary_size=None):
    """The model a `kseq.training_config.TrainingConfig` describes, computing in its
    `mixed_precision` (None: float32); a source vocabulary size means separate vocabularies."""
    with dtype_policy(config.mixed_precision or "float32"):
        return Seq2SeqTransformer(
            vocabulary_size=vocabulary_size,
            source_vocabulary_size=source_vocabulary_size,
            tie_embeddings=True,
            **config.model_options(),
        )


def compile_model(model, config, steps_per_epoch):
    """AdamW with warmup then cosine decay over the epochs, or under a time budget
    a plain rate that `kseq.time_budget.TimeBudget` sets as the time passes.

    `config.ema_momentum`, when set, averages the weights (see the optimizer).
    """
    if config.time_budget_minutes:
        schedule = 0.0
    else:
        total_steps = max(1, config.epochs * steps_per_epoch)
        warmup_steps = min(config.warmup_steps, total_steps // 2)
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0,
            warmup_target=config.learning_rate,
            warmup_steps=warmup_steps,
            decay_steps=max(1, total_steps - warmup_steps),
            alpha=0.1,
        )
    model.compile(
        optimizer=keras.optimizers.AdamW(
            schedule, weight_decay=config.weight_decay, beta_2=0.98, clipnorm=1.0,
            # An exponential moving average of the weights replaces them when
            # fit() ends: checkpoint averaging without the checkpoints.
            use_ema=bool(config.ema_momentum), ema_momentum=config.ema_momentum or 0.99,
        ),
        loss=SmoothedSparseCrossentropy(config.label_smoothing),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        # XLA fuses the step's kernels, compiling once per batch shape
        # (`kseq.batching` keeps them few); JAX without it runs op by op.
        jit_compile=config.jit_compile,
    )
    # Without a distribution strategy Keras builds the optimizer inside the first traced
    # train step, and tf.function then traces the step again without variable creation:
    # building it here saves that second trace, seconds of a small model's first epoch.
    model.optimizer.build(model.trainable_variables)
