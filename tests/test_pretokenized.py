import numpy as np

from conftest import tiny_settings
from kseq import pretokenized
from kseq.builtin_corpus import builtin_pairs
from kseq.data import make_dataset, make_examples
from kseq.training import build_tokenizers


def test_npz_round_trip_gives_the_tf_data_batches(tmp_path):
    pairs = builtin_pairs()[:64]
    tokenizer, _ = build_tokenizers(pairs, tiny_settings())
    examples = make_examples(pairs, tokenizer, tokenizer, 40, 40)
    path = tmp_path / "data.npz"
    pretokenized.save(path, {"train": examples}, tokenizer.proto)

    splits, proto = pretokenized.load(path)
    assert proto == tokenizer.proto and list(splits) == ["train"]
    inputs, labels, weights = pretokenized.model_inputs(*splits["train"])
    assert sorted(rows(inputs, labels, weights)) == sorted(
        row for batch in make_dataset(examples, 256) for row in rows(*batch))


def rows(inputs, labels, weights):
    """Each example's arrays without their padding, as hashable tuples."""
    strip = lambda row: tuple(int(i) for i in np.asarray(row) if i != 0)
    return [(strip(s), strip(d), strip(l), float(np.sum(w)))
            for s, d, l, w in zip(inputs["encoder_inputs"], inputs["decoder_inputs"], labels, weights)]
