import numpy as np
import pytest

from kseq.data import (
    DataError,
    load_corpus,
    make_examples,
    pad_rows,
    read_parallel,
    read_tsv,
)
from kseq.special_ids import END_ID, PAD_ID
from kseq.vocabulary import Vocabulary, learn_vocabulary

PAIRS = [("Good morning.", "Buenos días."), ("Thank you very much.", "Muchas gracias."),
         ("Where is the station?", "¿Dónde está la estación?"), ("I see.", "Ya veo.")] * 30


@pytest.fixture(scope="module")
def vocabulary():
    return Vocabulary(learn_vocabulary((text for pair in PAIRS for text in pair), 100))


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


def test_examples_truncate_or_drop_overlong_pairs(vocabulary):
    pairs = PAIRS[:4]
    truncated = make_examples(pairs, vocabulary, vocabulary, 4, 4, overlong="truncate")
    assert truncated.truncated > 0 and truncated.dropped == 0
    assert truncated.source.shape[1] <= 4 and truncated.target.shape[1] <= 3
    assert all(row[row != PAD_ID][-1] == END_ID for row in truncated.source)
    dropped = make_examples(pairs, vocabulary, vocabulary, 4, 4, overlong="drop")
    assert dropped.dropped == truncated.truncated
    assert len(dropped.source) == len(dropped.target) == len(pairs) - dropped.dropped


def test_examples_hold_the_vocabulary_ids(vocabulary):
    examples = make_examples(PAIRS[:4], vocabulary, vocabulary, 32, 32)
    for (source, target), source_row, target_row in zip(PAIRS, examples.source, examples.target):
        assert list(source_row[source_row != PAD_ID]) == vocabulary.encode([source])[0] + [END_ID]
        assert list(target_row[target_row != PAD_ID]) == vocabulary.encode([target])[0]


def test_pad_rows_pads_and_cuts_to_the_width():
    np.testing.assert_array_equal(pad_rows([[5, 6, 7], [8]], width=2), [[5, 6], [8, 0]])
    assert pad_rows([[5, 6, 7], [8]]).shape == (2, 3) and pad_rows([]).shape == (0, 1)
