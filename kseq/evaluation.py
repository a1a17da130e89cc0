"""Corpus evaluation: translate every test source, score with sacrebleu."""

import keras
import numpy as np
import sacrebleu
import tensorflow as tf


def group_references(pairs):
    """Groups pairs by source, in first-seen order: (sources, references per source)."""
    references = {}
    for source, target in pairs:
        references.setdefault(source, []).append(target)
    return list(references), list(references.values())


def translate_all(translator, sources, batch_size=64, verbose=True):
    """Translates a list of strings in length-sorted batches; keeps the order."""
    order = np.argsort([len(source) for source in sources], kind="stable")
    translations = [None] * len(sources)
    progress = keras.utils.Progbar(len(sources), unit_name="sentence") if verbose else None
    for start in range(0, len(sources), batch_size):
        batch = order[start : start + batch_size]
        outputs = translator.translate(tf.constant([sources[i] for i in batch]))
        for i, text in zip(batch, outputs["translation"].numpy()):
            translations[i] = text.decode("utf-8")
        if progress:
            progress.add(len(batch))
    return translations


def score(hypotheses, references):
    """BLEU and chrF (sacrebleu defaults) against several references per source.

    Also reports `exact_match`: the share of hypotheses equal to one of their
    references.
    """
    width = max(len(refs) for refs in references)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]
    exact = [hypothesis in refs for hypothesis, refs in zip(hypotheses, references)]
    return {
        "bleu": round(sacrebleu.corpus_bleu(hypotheses, streams).score, 2),
        "chrf": round(sacrebleu.corpus_chrf(hypotheses, streams).score, 2),
        "exact_match": round(100 * sum(exact) / len(exact), 2),
        "sentences": len(hypotheses),
    }


def evaluate(translator, pairs, batch_size=64, verbose=True):
    """Scores a translator on (source, target) pairs; returns (metrics, samples)."""
    sources, references = group_references(pairs)
    hypotheses = translate_all(translator, sources, batch_size, verbose)
    samples = [
        {"source": s, "translation": h, "references": r}
        for s, h, r in zip(sources, hypotheses, references)
    ]
    return score(hypotheses, references), samples
