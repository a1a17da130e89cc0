"""Do all exports decode like Keras? (`kseq parity RUN_DIR`)"""

import numpy as np

from kseq.backends import load
from kseq.batch_translation import translate_batches

EXPORTED = ("saved_model", "tflite", "tflite_ids")


def check_parity(run_dir, texts):
    """Returns {backend: {"same_ids": %, "same_text": %, "first_difference": ...}}."""
    reference_text, reference_ids = translate_batches(load(run_dir, "keras"), texts)
    report = {"sentences": len(texts)}
    for name in EXPORTED:
        translations, ids = translate_batches(load(run_dir, name), texts)
        same_ids = (ids == reference_ids).all(axis=1)
        same_text = [a == b for a, b in zip(translations, reference_text)]
        first = None if same_ids.all() else int(np.argmin(same_ids))
        report[name] = {
            "same_ids": round(100 * float(same_ids.mean()), 2),
            "same_text": round(100 * sum(same_text) / len(texts), 2),
            "first_difference": None if first is None else {
                "source": texts[first], "keras": reference_text[first], name: translations[first],
                "keras_ids": reference_ids[first].tolist(), f"{name}_ids": ids[first].tolist()},
        }
    return report
