import numpy as np
import tensorflow as tf

from kseq.special_ids import END_ID


def test_translates_strings_in_a_graph(tiny_graph):
    outputs = tiny_graph.translate(tf.constant(["Ten books.", "It is one o'clock."]))
    assert outputs["translation"].shape == (2,)
    assert outputs["ids"].shape == (2, tiny_graph.max_length)
    decoded = tiny_graph.target_tokenizer.detokenize(outputs["ids"])
    np.testing.assert_array_equal(decoded, outputs["translation"])


def test_edge_inputs_do_not_break_it(tiny_graph):
    texts = ["", "   ", "😀 ∑ 日本", "one " * 500]
    outputs = tiny_graph.translate(tf.constant(texts))
    translations = [t.decode("utf-8") for t in outputs["translation"].numpy()]  # raises if not UTF-8
    expected = [t.decode("utf-8") for t in tiny_graph.target_tokenizer.detokenize(outputs["ids"]).numpy()]
    assert translations == expected and len(translations) == 4
    for row in outputs["ids"].numpy():  # each row: ids, the end id, then only padding (or max_length ids)
        ends = np.flatnonzero(row == END_ID)
        assert not row[ends[0] + 1 :].any() if len(ends) else row.all(), row
    # A source longer than the model takes is cut, not refused: the same as its first pieces.
    longest = tiny_graph.model.max_source_length
    cut = tiny_graph.source_ids(tf.constant(["one " * 500]))
    assert cut.shape == (1, longest) and cut.numpy()[0, -1] == END_ID
