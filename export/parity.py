"""python -m export.parity RUN_DIR [--data TSV]: do all exports decode like Keras?

Translates every source with the Keras model, the SavedModel and the float32
TFLite text and ids models, and reports the share of sentences whose token
ids are identical to Keras' (and of identical strings), with the first
disagreement of each backend.
"""

import argparse
import json

import numpy as np

from kseq import run_directory as rd
from kseq.backends import load
from kseq.data import load_corpus, read_tsv
from kseq.evaluation import group_references

EXPORTED = ("saved_model", "tflite", "tflite_ids")


def translate(backend, texts, batch_size=64):
    translations, ids = [], []
    for start in range(0, len(texts), batch_size):
        batch_translations, batch_ids = backend.translate(texts[start : start + batch_size])
        translations += batch_translations
        ids.append(batch_ids)
    return translations, np.concatenate(ids)


def check_parity(run_dir, texts):
    """Returns {backend: {"same_ids": %, "same_text": %, "first_difference": ...}}."""
    reference_text, reference_ids = translate(load(run_dir, "keras"), texts)
    report = {"sentences": len(texts)}
    for name in EXPORTED:
        translations, ids = translate(load(run_dir, name), texts)
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
