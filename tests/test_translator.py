import numpy as np
import tensorflow as tf



def test_translates_strings_in_a_graph(tiny_translator):
    outputs = tiny_translator.translate(tf.constant(["Ten books.", "It is one o'clock."]))
    assert outputs["translation"].shape == (2,)
    assert outputs["ids"].shape == (2, tiny_translator.max_length)
    decoded = tiny_translator.target_tokenizer.detokenize(outputs["ids"])
    np.testing.assert_array_equal(decoded, outputs["translation"])


def test_edge_inputs_do_not_break_it(tiny_translator):
    texts = ["", "   ", "😀 ∑ 日本", "one " * 500]
    outputs = tiny_translator.translate(tf.constant(texts))
    assert [t.decode("utf-8") is not None for t in outputs["translation"].numpy()] == [True] * 4
