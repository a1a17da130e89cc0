from kseq import buckets


def test_buckets_end_at_the_longest_pair():
    assert buckets.bucket_lengths(30) == [8, 12, 16, 20, 24, 30]
    assert buckets.bucket_lengths(8) == [8]
    assert buckets.bucket_lengths(5) == [5]


def test_a_batch_holds_about_the_tokens_asked_and_never_less_than_one_pair():
    assert buckets.batch_size(64, 2048) == 32
    assert buckets.batch_size(12, 2048) == 170
    assert buckets.batch_size(4096, 2048) == 1
