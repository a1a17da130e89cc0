"""python -m export.parity RUN_DIR [--data TSV]: do all exports decode like Keras?

Translates every source with the Keras model, the SavedModel and the float32
TFLite text and ids models, and reports the share of sentences whose token
ids are identical to Keras' (and of identical strings), with the first
disagreement of each backend.
"""

import argparse
import json
import os

import numpy as np
import tensorflow as tf

from export.export_run import IDS_FILE, SAVED_MODEL_DIR, TEXT_FILE, TFLITE_DIR, next_version
from kseq import run_directory as rd
from kseq.data import load_corpus, read_tsv
from kseq.evaluation import group_references
from kseq.litert import IdsModelTranslator, TextModelTranslator
from kseq.translator import Translator


def keras_translate(run_dir, texts, batch_size=64):
    config = rd.load_config(run_dir)
    translator = Translator(rd.load_model(run_dir), *rd.load_tokenizers(run_dir, config))
    return _batched(lambda batch: translator.translate(tf.constant(batch)), texts, batch_size)


def saved_model_translate(run_dir, texts, batch_size=64):
    base = os.path.join(run_dir, SAVED_MODEL_DIR)
    serve = tf.saved_model.load(os.path.join(base, str(next_version(base) - 1))).signatures["serving_default"]
    return _batched(lambda batch: serve(text=tf.constant(batch)), texts, batch_size)


def _batched(translate, texts, batch_size):
    translations, ids = [], []
    for start in range(0, len(texts), batch_size):
        outputs = translate(texts[start : start + batch_size])
        translations += [t.decode("utf-8") for t in outputs["translation"].numpy()]
        ids.append(outputs["ids"].numpy())
    return translations, np.concatenate(ids)


def check_parity(run_dir, texts):
    """Returns {backend: {"same_ids": %, "same_text": %, "first_difference": ...}}."""
    files = rd.load_config(run_dir)["tokenizer"]["files"]
    tflite = os.path.join(run_dir, TFLITE_DIR)
    reference_text, reference_ids = keras_translate(run_dir, texts)
    backends = {
        "saved_model": lambda: saved_model_translate(run_dir, texts),
        "tflite_text": lambda: TextModelTranslator(os.path.join(tflite, TEXT_FILE)).translate(texts),
        "tflite_ids": lambda: IdsModelTranslator(
            os.path.join(tflite, IDS_FILE), os.path.join(tflite, files["source"]),
            os.path.join(tflite, files["target"])).translate(texts),
    }
    report = {"sentences": len(texts)}
    for name, translate in backends.items():
        translations, ids = translate()
        same_ids = (ids == reference_ids).all(axis=1)
        same_text = [a == b for a, b in zip(translations, reference_text)]
        first = int(np.argmin(same_ids)) if not same_ids.all() else None
        report[name] = {
            "same_ids": round(100 * float(same_ids.mean()), 2),
            "same_text": round(100 * sum(same_text) / len(texts), 2),
            "first_difference": None if first is None else {
                "source": texts[first], "keras": reference_text[first], name: translations[first]},
        }
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m export.parity", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("--data", help="A TSV file to translate (default: the run's test split).")
    parser.add_argument("--limit", type=int, help="Only the first N sources.")
    args = parser.parse_args(argv)
    if args.data:
        pairs = read_tsv(args.data)
    else:
        pairs = load_corpus(rd.load_config(args.run_dir)["settings"]["data"]).test
    texts, _ = group_references(pairs)
    report = check_parity(args.run_dir, texts[: args.limit])
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
