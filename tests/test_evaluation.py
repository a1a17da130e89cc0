import pytest

from kseq.evaluation import evaluate, group_references, score


def test_groups_several_references_per_source_in_order():
    pairs = [("Stop!", "¡Parad!"), ("Go.", "Vete."), ("Stop!", "¡Para!")]
    assert group_references(pairs) == (["Stop!", "Go."], [["¡Parad!", "¡Para!"], ["Vete."]])


def test_scores_with_sacrebleu_against_any_reference():
    references = [["¡Parad de hablar ahora mismo!", "¡Para de hablar ahora mismo!"],
                  ["Me voy a casa ahora mismo."]]
    perfect = score(["¡Para de hablar ahora mismo!", "Me voy a casa ahora mismo."], references)
    assert perfect["bleu"] == pytest.approx(100.0) and perfect["chrf"] == pytest.approx(100.0)
    assert perfect["exact_match"] == 100.0 and perfect["sentences"] == 2
    half = score(["¡Para de hablar ahora mismo!", "No sé."], references)
    assert half["exact_match"] == 50.0 and half["bleu"] < 100.0


def test_evaluate_a_trained_translator(tiny_keras):
    pairs = [("Ten books.", "Diez libros."), ("Ten books.", "Diez libros!"), ("Two cats.", "Dos gatos.")]
    metrics, samples = evaluate(tiny_keras, pairs, batch_size=2, verbose=False)
    assert metrics["sentences"] == 2
    assert [s["source"] for s in samples] == ["Ten books.", "Two cats."]
    assert samples[0]["references"] == ["Diez libros.", "Diez libros!"]
    assert all(isinstance(s["translation"], str) for s in samples)
    assert metrics["sentences_per_second"] > 0

