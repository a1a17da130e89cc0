"""The one loop that feeds many texts to a translator, a batch at a time."""

import sys

import numpy as np

from kseq.errors import UsageError


def translate_batches(translator, texts, batch_size=64, progress=False):
    """Translates `texts` with any translator (`kseq.load`), `batch_size` at a time.

    The texts go in order of length, so a batch pads little, and come back in
    the order given.

    Args:
        translator: has `translate(texts) -> (translations, ids)`.
        texts: a list of strings.
        batch_size: int. Texts per call to the translator.
        progress: bool. Show a progress bar (Keras' `Progbar`); where the
            output is a file, not a terminal, one line every 30 seconds.

    Returns:
        (translations, ids): a list of strings and an int32 array
        (len(texts), max_length) of output token ids.
    """
    if batch_size < 1:
        raise UsageError(f"`batch_size` must be at least 1. Received: batch_size={batch_size}")
    texts = list(texts)
    order = np.argsort([len(text) for text in texts], kind="stable")
    translations, ids = [None] * len(texts), [None] * len(texts)
    bar = None
    if progress:
        import keras  # for the bar alone: LiteRT translates without Keras (or the TensorFlow it loads)

        bar = keras.utils.Progbar(len(texts), unit_name="sentence", interval=0.05 if sys.stdout.isatty() else 30)
    for start in range(0, len(texts), batch_size):
        batch = order[start : start + batch_size]
        batch_translations, batch_ids = translator.translate([texts[i] for i in batch])
        for i, translation, row in zip(batch, batch_translations, batch_ids):
            translations[i], ids[i] = translation, row
        if bar:
            bar.add(len(batch))
    return translations, np.array(ids, np.int32) if ids else np.zeros((0, 0), np.int32)
