"""A quiet console: TensorFlow's start-up logging held back unless the user asked for it."""

import contextlib
import os
import sys
import tempfile


def tensorflow_logging_asked_for():
    """Whether the user set `TF_CPP_MIN_LOG_LEVEL` to 0 or 1: they want TensorFlow's logs."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2") in ("0", "1")


def quiet_tensorflow():
    """Imports TensorFlow (if installed) with its C++ start-up logging held back.

    TensorFlow's absl logging writes 3 to 7 lines to stderr at import
    (oneDNN, CUDA drivers, `failed call to cuInit` on a machine without a
    GPU, at the first look for devices) before `TF_CPP_MIN_LOG_LEVEL` is
    even read, so the environment variable alone cannot silence them. A user who set
    `TF_CPP_MIN_LOG_LEVEL` to 0 or 1 asked for the logs: then nothing is held back.
    """
    if tensorflow_logging_asked_for() or "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with stderr_shown_on_failure():
        try:
            import tensorflow as tf
        except ImportError:
            return
        tf.config.list_physical_devices()  # looks for GPUs: `failed call to cuInit` where there is none


@contextlib.contextmanager
def stderr_shown_on_failure():
    """Holds back what C++ code writes to stderr (file descriptor 2), unless the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
