import numpy as np
from test_decoding import SOURCE, model  # noqa: F401  (the small random model fixture)

from kseq.cross_attention import cross_attention
from kseq.decoding import greedy_decode
from kseq.special_ids import END_ID


def test_rows_are_distributions_over_real_source_pieces(model):  # noqa: F811  (the fixture)
    source = SOURCE[1:2]  # 3 real pieces, then padding
    output_ids, weights = cross_attention(model, source)
    expected = np.asarray(greedy_decode(model, source))[0]
    np.testing.assert_array_equal(output_ids, expected[: len(output_ids)])
    assert output_ids[-1] == END_ID or len(output_ids) == model.max_target_length
    assert weights.shape == (len(output_ids), source.shape[1])
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(weights[:, 3:] < 1e-6)  # padding gets no attention
