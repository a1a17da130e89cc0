"""kseq: train a sequence-to-sequence Transformer in Keras and put it on a phone.

`kseq.load(RUN_DIR, backend=...)`, `kseq.pipeline("translation", model=RUN_DIR)`,
`kseq.train(config, run)`, `kseq.TrainingConfig` and `kseq.RunDirectory` are imported
on first use, so `kseq.litert` works without TensorFlow.
"""

import os

# Quiet TensorFlow's C++ start-up chatter unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# TensorFlow's CPU tensors come from malloc unless this asks for its BFC pool, which keeps freed
# memory for the next step instead of handing large buffers back to the kernel and faulting them
# in again (`bench/cpu_allocator.py`). Read at TensorFlow's first allocation; "false" opts out.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")

__version__ = "0.1.0"


def __getattr__(name):
    if name == "load":
        from kseq.backends import load

        return load
    if name == "pipeline":
        from kseq.translation_pipeline import pipeline

        return pipeline
    if name == "train":
        from kseq.training import train

        return train
    if name == "TrainingConfig":
        from kseq.training_config import TrainingConfig

        return TrainingConfig
    if name == "RunDirectory":
        from kseq.run_directory import RunDirectory

        return RunDirectory
    raise AttributeError(f"module 'kseq' has no attribute {name!r}")
