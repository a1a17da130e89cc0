"""Corpus evaluation: translate every test source, score with sacrebleu."""

import time

import sacrebleu

from kseq.batch_translation import translate_batches


def group_references(pairs):
    """Groups pairs by source, in first-seen order: (sources, references per source)."""
    references = {}
    for source, target in pairs:
        references.setdefault(source, []).append(target)
    return list(references), list(references.values())


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
    """Scores a translator (`kseq.load`) on (source, target) pairs; returns (metrics, samples)."""
    sources, references = group_references(pairs)
    started = time.perf_counter()
    hypotheses, _ = translate_batches(translator, sources, batch_size, progress=verbose)
    seconds = time.perf_counter() - started
    samples = [
        {"source": s, "translation": h, "references": r}
        for s, h, r in zip(sources, hypotheses, references)
    ]
    metrics = score(hypotheses, references)
    metrics["sentences_per_second"] = round(len(sources) / seconds, 1)
    return metrics, samples
