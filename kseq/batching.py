"""Length-bucketed batches with static shapes, in NumPy: the one `fit()` pipeline of every backend.

Pairs of about the same length share a batch, so little compute goes to
padding. A compiling backend (JAX, TensorFlow with XLA) compiles the train
step once per batch shape, so the shapes are few: at most `MAX_BUCKETS`
lengths, chosen to waste the fewest positions on the data, and every batch
of a bucket has the same number of rows, the last one filled up with padding rows that weigh nothing.
This module imports NumPy and Keras only; `as_tf_dataset` asks `kseq.tf` for TensorFlow's view.
"""

import bisect

import keras
import numpy as np

from kseq.special_ids import END_ID, PAD_ID, START_ID

MAX_BUCKETS = 4  # when the step is compiled per shape (JAX, XLA)
UNCOMPILED_BUCKETS = 12  # TensorFlow's graphs without XLA take any shape: finer buckets pad less
LENGTH_MULTIPLE = 8  # bucket lengths are multiples of 8 (and the longest pair's length)
UNCOMPILED_LENGTH_MULTIPLE = 4  # a CPU without XLA gains nothing from tiles of 8


def choose_bucket_lengths(lengths, max_buckets=MAX_BUCKETS, multiple=LENGTH_MULTIPLE):
    """At most `max_buckets` padded lengths, ascending, that waste the fewest positions.

    Each pair is padded to the first bucket length that holds it. The longest
    bucket is the longest pair; the others are multiples of `multiple`, chosen
    by dynamic programming over the length histogram (written here because no
    library picks bucket boundaries for a fixed count).

    Args:
        lengths: ints, each pair's padded length (positions).
    """
    if max_buckets < 1:
        raise ValueError(f"`max_buckets` must be at least 1. Received: max_buckets={max_buckets}")
    lengths = np.asarray(lengths)
    longest = int(lengths.max())
    candidates = [c for c in range(multiple, longest, multiple)] + [longest]
    # pairs[i]: how many pairs fit candidates[i] but not candidates[i - 1].
    pairs = np.bincount(np.searchsorted(candidates, lengths), minlength=len(candidates))
    below = np.concatenate([[0], np.cumsum(pairs)])  # below[j]: pairs up to candidates[j - 1]
    # best[k][j]: least positions for the pairs up to candidates[j], with k
    # buckets, the last one candidates[j].
    best = [[np.inf] * len(candidates) for _ in range(max_buckets + 1)]
    choice = [[None] * len(candidates) for _ in range(max_buckets + 1)]
    for j, length in enumerate(candidates):
        best[1][j] = below[j + 1] * length
    for k in range(2, max_buckets + 1):
        for j, length in enumerate(candidates):
            for i in range(j):
                cost = best[k - 1][i] + (below[j + 1] - below[i + 1]) * length
                if cost < best[k][j]:
                    best[k][j], choice[k][j] = cost, i
    k = min(range(1, max_buckets + 1), key=lambda k: best[k][-1])
    chosen, j = [], len(candidates) - 1
    while j is not None:
        chosen.append(candidates[j])
        j, k = choice[k][j], k - 1
    return sorted(chosen)


def rows_per_batch(bucket_length, tokens_per_batch, row_multiple=1, row_tile=8):
    """Pairs per batch in a bucket: about `tokens_per_batch` positions.

    A multiple of `row_multiple` (the devices sharing a batch), and of
    `row_tile` times it where that fits (GPU matrix units work in tiles of 8
    rows; 1 leaves the rows as they come).
    """
    rows = max(1, tokens_per_batch // bucket_length)
    multiple = row_tile * row_multiple if rows >= row_tile * row_multiple else row_multiple
    return max(multiple, rows // multiple * multiple)


def pair_lengths(source, target):
    """Each pair's padded length: its source, or its target plus the start id."""
    return np.maximum((source != PAD_ID).sum(axis=1), (target != PAD_ID).sum(axis=1) + 1)


def model_inputs(source, target):
    """Arrays for `fit()`: `({"encoder_inputs", "decoder_inputs"}, labels, sample_weight)`.

    Decoder inputs start with the start id, labels end with the end id; padding
    (and a padding row, all 0) weighs nothing.
    """
    real = (target != PAD_ID).any(axis=1) | (source != PAD_ID).any(axis=1)
    rows = np.arange(len(target))
    lengths = np.sum(target != PAD_ID, axis=1)
    decoder_inputs = np.concatenate([np.full((len(target), 1), START_ID, np.int32), target], axis=1)
    labels = np.concatenate([target, np.full((len(target), 1), PAD_ID, np.int32)], axis=1)
    labels[rows, lengths] = END_ID
    decoder_inputs[~real], labels[~real] = PAD_ID, PAD_ID
    sample_weight = (labels != PAD_ID).astype(np.float32)
    return {"encoder_inputs": source, "decoder_inputs": decoder_inputs}, labels, sample_weight


class LengthBatches(keras.utils.PyDataset):
    """`fit()` batches of about `tokens_per_batch` positions, grouped by length, in a few shapes.

    Every batch of a bucket is (rows, bucket length): the bucket's last batch
    is filled up with padding rows, so `fit()` sees at most one shape per
    bucket and a compiling backend compiles the step once per bucket.

    Args:
        source: int32 (pairs, steps), 0-padded, ending with the end id.
        target: int32 (pairs, steps), 0-padded, without start or end ids.
        tokens_per_batch: int. Positions per batch.
        bucket_lengths: ascending ints, or None to choose them for this data
            (`choose_bucket_lengths`). The last must hold the longest pair.
        row_multiple: int. Rows per batch are a multiple of this (the number
            of devices that share each batch).
        row_tile: int. And of this times `row_multiple` where that fits.
        shuffle: bool. New batches in a new order every epoch.
        seed: int. For the shuffle.
        resegment: a callable giving `(source, target)` for the same pairs,
            segmented anew (subword regularization), or None. Called every
            epoch; a pair whose new segmentation outgrows its bucket keeps
            the first one that epoch, so shapes and batch counts never change.
        max_source_length, max_target_length: ints or None. The model's
            limits: a bucket's length is its longest side's, so the other
            side is padded to it only up to its own limit.
    """

    def __init__(self, source, target, tokens_per_batch, bucket_lengths=None, row_multiple=1, row_tile=8,
                 shuffle=False, seed=0, resegment=None, max_source_length=None, max_target_length=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.max_source_length, self.max_target_length = max_source_length, max_target_length
        lengths = pair_lengths(source, target)
        self.bucket_lengths = list(bucket_lengths or choose_bucket_lengths(lengths))
        if lengths.max() > self.bucket_lengths[-1]:
            raise ValueError(f"A pair of {lengths.max()} positions does not fit the longest bucket, "
                             f"{self.bucket_lengths[-1]}. Received: bucket_lengths={self.bucket_lengths}")
        self.source, self.target = self.first_source, self.first_target = source, target
        self.resegment = resegment
        self.resegmented = 0.0  # the share of pairs in their new segmentation this epoch
        self.rows = [rows_per_batch(length, tokens_per_batch, row_multiple, row_tile)
                     for length in self.bucket_lengths]
        self.bucket = np.array([bisect.bisect_left(self.bucket_lengths, n) for n in lengths])
        self.shuffle = shuffle
        self.random = np.random.default_rng(seed)
        self.batches = self._batches()
        self._resegment()

    def _batches(self):
        order = self.random.permutation(len(self.bucket)) if self.shuffle else np.arange(len(self.bucket))
        batches = []
        for bucket, rows in enumerate(self.rows):
            members = order[self.bucket[order] == bucket]
            batches += [(members[i : i + rows], bucket) for i in range(0, len(members), rows)]
        if self.shuffle:
            batches = [batches[i] for i in self.random.permutation(len(batches))]
        return batches

    @property
    def shapes(self):
        """The (rows, length) batch shapes this data gives, one per bucket in use."""
        return sorted({(self.rows[bucket], self.bucket_lengths[bucket]) for _, bucket in self.batches})

    def one_batch_per_shape(self):
        """A batch of each shape this data gives, in `shapes`' order (to compile for)."""
        first = {}
        for index, (_, bucket) in enumerate(self.batches):
            first.setdefault(bucket, index)
        return [self[first[bucket]] for bucket in sorted(first)]

    @property
    def target_tokens(self):
        """Target positions that count in the loss per epoch (pieces and end ids)."""
        return int((self.target != PAD_ID).sum()) + len(self.target)

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        members, bucket = self.batches[index]
        rows, length = self.rows[bucket], self.bucket_lengths[bucket]
        # Decoder inputs gain the start id: targets take one position less.
        source = _fit(self.source[members], rows, min(length, self.max_source_length or length))
        target = _fit(self.target[members], rows, min(length, self.max_target_length or length) - 1)
        return model_inputs(source, target)

    def on_epoch_end(self):
        if self.shuffle:
            self.batches = self._batches()
        self._resegment()

    def _resegment(self):
        if self.resegment is None:
            return
        source, target = self.resegment()
        fits = pair_lengths(source, target) <= np.take(self.bucket_lengths, self.bucket)
        self.source = _where_rows(fits, source, self.first_source)
        self.target = _where_rows(fits, target, self.first_target)
        self.resegmented = float(fits.mean())

    def as_tf_dataset(self):
        """The same batches as a `tf.data.Dataset`, for TensorFlow's `fit()` and its strategies."""
        from kseq.tf.datasets import length_batches_dataset  # needs TensorFlow: on its backend only

        return length_batches_dataset(self)


def _where_rows(condition, ids, other):
    """Row i of `ids` where `condition[i]`, else of `other`, both padded to the wider."""
    width = max(ids.shape[1], other.shape[1])
    pad = lambda a: np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=PAD_ID)  # noqa: E731
    return np.where(condition[:, None], pad(ids), pad(other)).astype(np.int32)


def _fit(ids, rows, width):
    """`ids` padded with 0 to (rows, width), or cut to `width` columns (only padding is cut)."""
    ids = ids[:, :width]
    return np.pad(ids, ((0, rows - len(ids)), (0, width - ids.shape[1])), constant_values=PAD_ID)
