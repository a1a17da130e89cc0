import pytest

from kseq.special_ids import END_ID, PAD_ID, START_ID
from kseq.vocabulary import Vocabulary, learn_vocabulary

TEXTS = [f"I have {n} books, {n + 1} maps and {2 * n} pens." for n in range(300)] + [
    "Good morning.", "Buenos días.", "¿Cómo estás?", "Thank you very much.", "Muchas gracias."]


def test_learns_a_vocabulary_whose_size_is_a_multiple_of_8():
    vocabulary = Vocabulary(learn_vocabulary(TEXTS, 101))
    assert vocabulary.size == 96
    assert vocabulary.decode(vocabulary.encode(["¿Cómo estás?"])) == ["¿Cómo estás?"]


def test_decoding_stops_at_the_end_id_and_skips_special_ids():
    vocabulary = Vocabulary(learn_vocabulary(TEXTS, 60))
    ids = vocabulary.encode(["Buenos días."])[0]
    assert vocabulary.decode([[START_ID] + ids + [END_ID] + ids + [PAD_ID]]) == ["Buenos días."]


def test_bad_arguments_and_files_are_explained(tmp_path):
    with pytest.raises(ValueError, match="max_vocabulary_size"):
        learn_vocabulary(TEXTS, 4)
    with pytest.raises(ValueError, match="model_type"):
        learn_vocabulary(TEXTS, 100, model_type="wordpiece")
    not_a_model = tmp_path / "tokenizer.model"
    not_a_model.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="Not a SentencePiece model"):
        Vocabulary(not_a_model)


def test_same_ids_and_text_as_the_tokenizer_layer_on_the_spa_eng_test_split(spa_eng, spa_eng_vocabulary):
    """Training tokenizes with `sentencepiece`; the exports with tensorflow-text: they must agree."""
    from kseq.data import load_corpus
    from kseq.tf.tokenizer import Tokenizer

    corpus = load_corpus(str(spa_eng))
    vocabulary = Vocabulary(spa_eng_vocabulary)
    layer = Tokenizer(proto=vocabulary.proto)
    texts = [text for pair in corpus.test for text in pair] + ["", "   ", "😀 It is one o'clock. 🚆", "Ten ∑ books ß"]
    ids = vocabulary.encode(texts)
    assert ids == layer(texts).to_list()
    assert vocabulary.decode(ids) == [text.decode("utf-8") for text in layer.detokenize(layer(texts)).numpy()]


def test_sampling_draws_other_segmentations_of_the_same_text():
    vocabulary = Vocabulary(learn_vocabulary(TEXTS, 101))
    text = "I have 12 books, 13 maps and 24 pens."
    best = vocabulary.encode([text])[0]
    sampled = {tuple(vocabulary.encode([text], sampling_alpha=0.1)[0]) for _ in range(30)}
    assert len(sampled) > 1 and all(vocabulary.decode([list(ids)])[0] == text for ids in sampled)
    assert vocabulary.encode([text])[0] == best  # without alpha: always the best one
