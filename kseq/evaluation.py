"""Corpus evaluation: translate every test source, score with sacrebleu."""

import time

import keras
import numpy as np
import sacrebleu


def group_references(pairs):
    """Groups pairs by source, in first-seen order: (sources, references per source)."""
    references = {}
    for source, target in pairs:
        references.setdefault(source, []).append(target)
    return list(references), list(references.values())


def translate_all(backend, sources, batch_size=64, verbose=True):
    """Translates strings in length-sorted batches with any `kseq.load` backend.

    Returns the translations in the order of `sources`.
    """
    order = np.argsort([len(source) for source in sources], kind="stable")
    translations = [None] * len(sources)
    progress = keras.utils.Progbar(len(sources), unit_name="sentence") if verbose else None
    for start in range(0, len(sources), batch_size):
        batch = order[start : start + batch_size]
        batch_translations, _ = backend.translate([sources[i] for i in batch])
        for i, text in zip(batch, batch_translations):
            translations[i] = text
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


def evaluate(backend, pairs, batch_size=64, verbose=True):
    """Scores a backend on (source, target) pairs; returns (metrics, samples)."""
    sources, references = group_references(pairs)
    started = time.perf_counter()
    hypotheses = translate_all(backend, sources, batch_size, verbose)
    seconds = time.perf_counter() - started
    samples = [
        {"source": s, "translation": h, "references": r}
        for s, h, r in zip(sources, hypotheses, references)
    ]
    metrics = score(hypotheses, references)
    metrics["sentences_per_second"] = round(len(sources) / seconds, 1)
    return metrics, samples
