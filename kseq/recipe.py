"""The model and its training recipe (optimizer, schedule, loss) from the settings.

Imports no TensorFlow: `train.py` builds and compiles the same model on every Keras backend.
"""

import keras

from kseq.loss import SmoothedSparseCrossentropy
from kseq.model import Seq2SeqTransformer, dtype_policy
from kseq.presets import MODEL_KEYS


def build_model(settings, vocabulary_size, source_vocabulary_size=None):
    """The model the settings describe, computing in `settings["mixed_precision"]` (None:
    float32); a source vocabulary size means separate vocabularies."""
    with dtype_policy(settings.get("mixed_precision") or "float32"):
        return Seq2SeqTransformer(
            vocabulary_size=vocabulary_size,
            source_vocabulary_size=source_vocabulary_size,
            tie_embeddings=True,
            **{key: settings[key] for key in MODEL_KEYS if key in settings},
        )


def compile_model(model, settings, steps_per_epoch):
    """AdamW with warmup then cosine decay over the epochs, or under a time budget
    a plain rate that `kseq.time_budget.TimeBudget` sets as the time passes.

    `settings["ema_momentum"]`, when set, averages the weights (see the optimizer).
    """
    if settings.get("time_budget_minutes"):
        schedule = 0.0
    else:
        total_steps = max(1, settings["epochs"] * steps_per_epoch)
        warmup_steps = min(settings["warmup_steps"], total_steps // 2)
        schedule = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=0.0,
            warmup_target=settings["learning_rate"],
            warmup_steps=warmup_steps,
            decay_steps=max(1, total_steps - warmup_steps),
            alpha=0.1,
        )
    ema_momentum = settings.get("ema_momentum")
    model.compile(
        optimizer=keras.optimizers.AdamW(
            schedule, weight_decay=settings["weight_decay"], beta_2=0.98, clipnorm=1.0,
            # An exponential moving average of the weights replaces them when
            # fit() ends: checkpoint averaging without the checkpoints.
            use_ema=bool(ema_momentum), ema_momentum=ema_momentum or 0.99,
        ),
        loss=SmoothedSparseCrossentropy(settings["label_smoothing"]),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        # XLA fuses the step's kernels, compiling once per batch shape
        # (`kseq.batching` keeps them few); JAX without it runs op by op.
        jit_compile=settings.get("jit_compile", False),
    )
    # Without a distribution strategy Keras builds the optimizer inside the first traced
    # train step, and tf.function then traces the step again without variable creation:
    # building it here saves that second trace (10 s of a tiny model's first epoch).
    model.optimizer.build(model.trainable_variables)
