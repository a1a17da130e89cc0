import numpy as np

from conftest import tiny_settings
from kseq import pretokenized
from kseq.builtin_corpus import builtin_pairs
from kseq.data import make_dataset, make_examples
from kseq.training import build_tokenizers


def write_npz(path, pairs):
    """Tokenizes `pairs` as the train split into `path`; returns (tokenizer, examples)."""
    tokenizer, _ = build_tokenizers(pairs, tiny_settings())
    examples = make_examples(pairs, tokenizer, tokenizer, 40, 40)
    pretokenized.save(path, {"train": examples}, tokenizer.proto, tokenizer.vocabulary_size())
    return tokenizer, examples


def test_npz_round_trip_gives_the_tf_data_batches(tmp_path):
    path = tmp_path / "data.npz"
    tokenizer, examples = write_npz(path, builtin_pairs()[:64])

    data = pretokenized.load(path)
    assert data.tokenizer_model == tokenizer.proto and list(data.splits) == ["train"]
    assert data.vocabulary_size == tokenizer.vocabulary_size()
    inputs, labels, weights = pretokenized.model_inputs(*data.splits["train"])
    assert sorted(rows(inputs, labels, weights)) == sorted(
        row for batch in make_dataset(examples, 256) for row in rows(*batch))


def rows(inputs, labels, weights):
    """Each example's arrays without their padding, as hashable tuples."""
    strip = lambda row: tuple(int(i) for i in np.asarray(row) if i != 0)
    return [(strip(s), strip(d), strip(l), float(np.sum(w)))
            for s, d, l, w in zip(inputs["encoder_inputs"], inputs["decoder_inputs"], labels, weights)]


def test_length_batches_hold_every_pair_once_in_a_few_shapes(tmp_path):
    path = tmp_path / "data.npz"
    write_npz(path, builtin_pairs()[:300])
    source, target = pretokenized.load(path).splits["train"]

    batches = pretokenized.LengthBatches(source, target, tokens_per_batch=256, shuffle=True, seed=1)
    for _ in range(2):  # two epochs: the batches are drawn anew
        epoch = [batches[i] for i in range(len(batches))]
        assert sorted(row for batch in epoch for row in rows(*batch)) == sorted(
            rows(*pretokenized.model_inputs(source, target)))
        shapes = {batch[0]["decoder_inputs"].shape[1] for batch in epoch}
        assert shapes <= set(batches.bucket_lengths) and len(shapes) > 1
        for inputs, labels, _ in epoch:
            length = inputs["decoder_inputs"].shape[1]
            assert inputs["encoder_inputs"].shape == labels.shape == (len(labels), length)
            assert len(labels) * length <= 256
        batches.on_epoch_end()
