import numpy as np
import pytest
import sentencepiece
import tensorflow as tf

from kseq.data import read_tsv
from kseq.tf.tokenizer import END_ID, PAD_ID, START_ID, UNKNOWN_ID, Tokenizer

TEXTS = ["Hello world.", "Hola mundo.", "¿Cómo estás?", "Good morning, my friend."] * 20


@pytest.fixture(scope="module")
def tokenizer():
    tokenizer = Tokenizer(max_vocabulary_size=120)
    tokenizer.adapt(TEXTS)
    return tokenizer


def test_special_ids_are_fixed(tokenizer):
    assert tokenizer.id_to_piece([0, 1, 2, 3]) == ["<pad>", "<unk>", "<s>", "</s>"]
    assert (PAD_ID, UNKNOWN_ID, START_ID, END_ID) == (0, 1, 2, 3)
    ids = tokenizer(TEXTS[:4])
    assert ids.dtype == tf.int32
    assert int(tf.reduce_min(ids.flat_values)) > END_ID


def test_round_trip_keeps_case_accents_and_punctuation(tokenizer):
    texts = ["¿Cómo estás?", "Hello world.", ""]
    assert [t.decode() for t in tokenizer.detokenize(tokenizer(texts)).numpy()] == texts


def test_detokenize_ignores_end_and_padding(tokenizer):
    ids = tokenizer(["Hola mundo."]).to_tensor()
    framed = tf.concat([ids, [[END_ID, PAD_ID, PAD_ID]]], axis=1)
    assert tokenizer.detokenize(framed).numpy()[0].decode() == "Hola mundo."
    assert tokenizer.detokenize([[END_ID, PAD_ID]]).numpy()[0] == b""


def test_unseen_characters_map_to_unknown(tokenizer):
    ids = tokenizer(["Hola 😀"]).flat_values.numpy()
    assert UNKNOWN_ID in ids


def test_sequence_length_pads_and_truncates(tokenizer):
    padded = Tokenizer(max_vocabulary_size=120, sequence_length=6, proto=tokenizer.proto)
    ids = padded(["Hola", "Good morning, my friend. Good morning, my friend."]).numpy()
    assert ids.shape == (2, 6)
    assert ids[0, -1] == PAD_ID and ids[1, -1] != PAD_ID
    np.testing.assert_array_equal(ids[1], tokenizer(["Good morning, my friend. Good morning, my friend."]).to_tensor().numpy()[0, :6])


def test_works_inside_tf_data_map(tokenizer):
    dataset = tf.data.Dataset.from_tensor_slices(TEXTS[:4]).batch(2).map(tokenizer)
    batches = list(dataset)
    assert len(batches) == 2
    assert batches[0].to_list() == tokenizer(TEXTS[:2]).to_list()


def test_config_and_assets_round_trip(tokenizer, tmp_path):
    tokenizer.save_assets(str(tmp_path))
    restored = Tokenizer.from_config(tokenizer.get_config())
    restored.load_assets(str(tmp_path))
    assert restored.get_config() == tokenizer.get_config()
    assert restored(TEXTS[:4]).to_list() == tokenizer(TEXTS[:4]).to_list()


def test_unadapted_tokenizer_says_what_to_do():
    with pytest.raises(ValueError, match="adapt"):
        Tokenizer()(["Hola"])


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="max_vocabulary_size"):
        Tokenizer(max_vocabulary_size=3)
    with pytest.raises(ValueError, match="model_type"):
        Tokenizer(model_type="wordpiece")
    bad = tmp_path / "bad.model"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="SentencePiece"):
        Tokenizer(proto=str(bad))


def test_lossless_on_the_spa_eng_test_split(spa_eng, spa_eng_vocabulary):
    """detokenize(tokenize(s)) == SentencePiece's nmt_nfkc normalization of s."""
    tokenizer = Tokenizer(proto=spa_eng_vocabulary)
    normalizer = sentencepiece.SentencePieceNormalizer(model_proto=tokenizer.proto)
    texts = [text for pair in read_tsv(spa_eng / "test.tsv") for text in pair]
    restored = [t.decode() for t in tokenizer.detokenize(tokenizer(texts)).numpy()]
    expected = [normalizer.normalize(t).replace("\u2581", " ").strip() for t in texts]
    mismatches = [(t, r) for t, r, e in zip(texts, restored, expected) if r != e]
    assert len(texts) == 4754 and not mismatches, mismatches[:5]


def test_the_vocabulary_size_is_a_multiple_of_8(tokenizer):
    # The tiny corpus cannot fill 120 pieces: the most it can, rounded down.
    assert tokenizer.vocabulary_size() % 8 == 0 and 8 <= tokenizer.vocabulary_size() <= 120
    large = Tokenizer(max_vocabulary_size=101)
    large.adapt(f"{word} {number}" for number in range(300) for word in ("libro", "casa", "perro"))
    assert large.vocabulary_size() % 8 == 0 and large.vocabulary_size() <= 96


def test_detokenize_gives_sentencepieces_text_for_any_ids(tokenizer):
    """A weak model may begin with lone "▁" pieces: the graph's text must still be SentencePiece's own."""
    from kseq.vocabulary import Vocabulary

    vocabulary = Vocabulary(tokenizer.proto)
    space = vocabulary.processor.piece_to_id("\u2581")
    word = tokenizer(["Hola mundo."]).numpy()[0].tolist()
    rows = [[space, space, space, *word, 3], [space, *word, space, space, *word, 3], [space, space, 3], word]
    width = max(map(len, rows))
    ids = np.array([row + [0] * (width - len(row)) for row in rows], np.int32)
    assert [t.decode("utf-8") for t in tokenizer.detokenize(ids).numpy()] == vocabulary.decode(ids)
