"""Length buckets: pairs of about the same length batched together, a few shapes in all.

A batch holds about `tokens_per_batch` positions whatever its length, so short
pairs come many to a batch and little of the compute goes to padding. Shared
by the `tf.data` pipeline (`kseq.data`) and the NumPy one (`kseq.pretokenized`).
"""

BOUNDARIES = (8, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128, 192, 256)


def bucket_lengths(max_length):
    """The padded lengths of the buckets for pairs of up to `max_length` positions, ascending."""
    return [b for b in BOUNDARIES if b < max_length] + [max_length]


def batch_size(bucket_length, tokens_per_batch):
    """Pairs per batch in the bucket of `bucket_length` positions."""
    return max(1, tokens_per_batch // bucket_length)
