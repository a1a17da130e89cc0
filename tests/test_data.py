import numpy as np
import pytest
import tensorflow as tf

from kseq import buckets
from kseq.data import (
    DataError, load_corpus, make_dataset, make_examples, read_parallel, read_tsv,
)
from kseq.tokenizer import END_ID, PAD_ID, START_ID, Tokenizer

PAIRS = [("Good morning.", "Buenos días."), ("Thank you very much.", "Muchas gracias."),
         ("Where is the station?", "¿Dónde está la estación?"), ("I see.", "Ya veo.")] * 30


@pytest.fixture(scope="module")
def tokenizer():
    tokenizer = Tokenizer(max_vocabulary_size=100)
    tokenizer.adapt(text for pair in PAIRS for text in pair)
    return tokenizer


def write(path, data):
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_reads_anki_tsv_with_bom_crlf_and_extra_columns(tmp_path):
    path = write(tmp_path / "a.tsv", "\ufeffHi.\tHola.\tCC-BY 2.0 (France)\r\nRun!\t¡Corre!\r\n")
    assert read_tsv(path) == [("Hi.", "Hola."), ("Run!", "¡Corre!")]


@pytest.mark.parametrize("content, line, reason", [
    ("Hi.\tHola.\nno tab here\n", 2, "no tab"),
    ("Hi.\tHola.\nHi.\t \n", 2, "empty target"),
    ("\tHola.\n", 1, "empty source"),
    (b"Hi.\tHola.\nCaf\xe9\tCaf\xc3\xa9\n", 2, "invalid UTF-8"),
])
def test_bad_lines_stop_with_file_and_line(tmp_path, content, line, reason):
    path = write(tmp_path / "bad.tsv", content)
    with pytest.raises(DataError, match=rf"bad\.tsv:{line}: {reason}.*--skip-bad-lines"):
        read_tsv(path)


def test_bad_lines_can_be_skipped_and_counted(tmp_path):
    path = write(tmp_path / "bad.tsv", b"Hi.\tHola.\nno tab\nCaf\xe9\tx\nRun!\t\xc2\xa1Corre!\n")
    skipped = []
    assert read_tsv(path, skip_bad_lines=True, skipped=skipped) == [("Hi.", "Hola."), ("Run!", "¡Corre!")]
    assert [s.split(": ")[0] for s in skipped] == [f"{path}:2", f"{path}:3"]


def test_empty_and_missing_files_are_named(tmp_path):
    with pytest.raises(DataError, match="empty"):
        read_tsv(write(tmp_path / "empty.tsv", ""))
    with pytest.raises(DataError, match="missing.tsv"):
        read_tsv(tmp_path / "missing.tsv")


def test_parallel_files(tmp_path):
    source = write(tmp_path / "train.en", "Hi.\nRun!\n")
    target = write(tmp_path / "train.es", "Hola.\n¡Corre!\n")
    assert read_parallel(source, target) == [("Hi.", "Hola."), ("Run!", "¡Corre!")]
    with pytest.raises(DataError, match="line-aligned"):
        read_parallel(source, write(tmp_path / "short.es", "Hola.\n"))


def test_directory_needs_train_tsv(tmp_path):
    with pytest.raises(DataError, match="no train.tsv"):
        load_corpus(str(tmp_path))


def test_missing_splits_are_carved_deterministically_by_source(tmp_path):
    lines = [f"Sentence {i}.\tFrase {i}.\nSentence {i}.\tOtra frase {i}.\n" for i in range(2000)]
    write(tmp_path / "train.tsv", "".join(lines))
    first, second = load_corpus(str(tmp_path)), load_corpus(str(tmp_path))
    assert first == second
    assert len(first.train) + len(first.valid) + len(first.test) == 4000
    assert 40 <= len(first.valid) <= 120 and 40 <= len(first.test) <= 120
    sources = [{s for s, _ in split} for split in (first.train, first.valid, first.test)]
    assert not (sources[0] & sources[1]) and not (sources[0] & sources[2]) and not (sources[1] & sources[2])


def test_given_splits_are_kept(tmp_path):
    write(tmp_path / "train.tsv", "".join(f"S {i}.\tF {i}.\n" for i in range(500)))
    write(tmp_path / "test.tsv", "Hi.\tHola.\n")
    corpus = load_corpus(str(tmp_path))
    assert corpus.test == [("Hi.", "Hola.")]
    assert corpus.valid and len(corpus.train) + len(corpus.valid) == 500


def test_builtin_corpus_is_the_default():
    corpus = load_corpus(None)
    assert len(corpus.train) + len(corpus.valid) + len(corpus.test) >= 20_000
    assert len(corpus.test) > 500


def test_examples_truncate_or_drop_overlong_pairs(tokenizer):
    pairs = PAIRS[:4]
    truncated = make_examples(pairs, tokenizer, tokenizer, 4, 4, overlong="truncate")
    assert truncated.truncated > 0 and truncated.dropped == 0
    assert max(truncated.source_ids.row_lengths()) <= 4
    assert all(row[-1] == END_ID for row in truncated.source_ids.to_list())
    dropped = make_examples(pairs, tokenizer, tokenizer, 4, 4, overlong="drop")
    assert dropped.dropped == truncated.truncated
    assert dropped.source_ids.nrows() == len(pairs) - dropped.dropped


def test_dataset_batches_shift_targets_and_mask_padding(tokenizer):
    examples = make_examples(PAIRS, tokenizer, tokenizer, 32, 32)
    batches = list(make_dataset(examples, tokens_per_batch=64, shuffle=True, seed=1))
    assert sum(len(b[1]) for b in batches) == len(PAIRS)
    for inputs, labels, weights in batches:
        decoder_inputs = inputs["decoder_inputs"].numpy()
        labels = labels.numpy()
        assert (decoder_inputs[:, 0] == START_ID).all()
        np.testing.assert_array_equal(decoder_inputs[:, 1:], np.where(labels == END_ID, PAD_ID, labels)[:, :-1])
        assert ((labels == END_ID).sum(axis=1) == 1).all()
        np.testing.assert_array_equal(weights.numpy(), (labels != PAD_ID).astype("float32"))
        assert inputs["encoder_inputs"].shape[0] * max(inputs["encoder_inputs"].shape[1], labels.shape[1]) <= 64 or len(labels) == 1


def test_length_buckets_waste_little_on_padding(tokenizer):
    pairs = [(" ".join(["Good morning."] * n), " ".join(["Buenos días."] * n)) for n in range(1, 9)] * 50
    examples = make_examples(pairs, tokenizer, tokenizer, 64, 64)
    real = padded = 0
    for _, labels, weights in make_dataset(examples, tokens_per_batch=512, shuffle=True):
        real += float(tf.reduce_sum(weights))
        padded += weights.shape[0] * weights.shape[1]
    assert real / padded > 0.75


def test_padding_to_buckets_gives_a_few_shapes_and_the_same_pairs(tokenizer):
    pairs = [(" ".join(["Good morning."] * n), " ".join(["Buenos días."] * n)) for n in range(1, 13)] * 20
    examples = make_examples(pairs, tokenizer, tokenizer, 64, 64)

    def batches(pad_to_bucket):
        return list(make_dataset(examples, tokens_per_batch=256, shuffle=True, pad_to_bucket=pad_to_bucket))

    def rows(batches):
        return sorted(
            (tuple(np.trim_zeros(s, "b")), tuple(np.trim_zeros(d, "b")), tuple(np.trim_zeros(l, "b")))
            for inputs, labels, _ in batches
            for s, d, l in zip(inputs["encoder_inputs"].numpy(), inputs["decoder_inputs"].numpy(), labels.numpy()))

    fitted, bucketed = batches(False), batches(True)
    assert rows(bucketed) == rows(fitted)
    widths = {inputs["encoder_inputs"].shape[1] for inputs, _, _ in bucketed}
    assert widths <= set(buckets.bucket_lengths(max(widths)))
    shapes = {tuple(inputs["encoder_inputs"].shape) for inputs, _, _ in bucketed}
    assert len(shapes) <= 2 * len(widths)  # a full batch and the remainder per bucket
    for inputs, labels, weights in bucketed:
        assert inputs["decoder_inputs"].shape == labels.shape == weights.shape == inputs["encoder_inputs"].shape
