"""Token ids in a `.npz` file: training data for a Keras backend without TensorFlow.

The tokenizer runs on TensorFlow (tensorflow-text ops); the model, its loss
and the greedy decoding use `keras.ops` only. Tokenizing once, here, lets
`fit()` and decoding run on JAX, on a machine with no TensorFlow at all. This
module imports NumPy alone.

The file holds, per split, `<split>_source` and `<split>_target`: int32
arrays (pairs, longest) padded with 0, sources ending with the end id as the
model reads them; `tokenizer_model`, the SentencePiece model's bytes, and
`vocabulary_size`. This module imports NumPy and Keras, not TensorFlow.
"""

import dataclasses

import keras
import numpy as np

from kseq import buckets
from kseq.special_ids import END_ID, PAD_ID, START_ID


@dataclasses.dataclass
class Pretokenized:
    """A `.npz` file's contents: `splits` maps a split to its (source, target) arrays."""

    splits: dict
    tokenizer_model: bytes
    vocabulary_size: int


def save(path, examples, tokenizer_model, vocabulary_size):
    """Writes `{split: kseq.data.Examples}`, the tokenizer model file's bytes and its size to `path`."""
    arrays = {"tokenizer_model": np.frombuffer(tokenizer_model, dtype=np.uint8),
              "vocabulary_size": np.int64(vocabulary_size)}
    for split, split_examples in examples.items():
        arrays[f"{split}_source"] = split_examples.source_ids.to_tensor(PAD_ID).numpy().astype(np.int32)
        arrays[f"{split}_target"] = split_examples.target_ids.to_tensor(PAD_ID).numpy().astype(np.int32)
    np.savez_compressed(path, **arrays)


def load(path):
    """Reads a file written by `save` as a `Pretokenized`."""
    with np.load(path) as data:
        missing = {"tokenizer_model", "vocabulary_size", "train_source"} - set(data.files)
        if missing:
            raise ValueError(f"{path} is not a kseq pre-tokenized file (no {', '.join(sorted(missing))}): "
                             "write one with `kseq pretokenize`.")
        splits = {name[: -len("_source")]: (data[name], data[name.replace("_source", "_target")])
                  for name in data.files if name.endswith("_source")}
        return Pretokenized(splits, data["tokenizer_model"].tobytes(), int(data["vocabulary_size"]))


def model_inputs(source, target):
    """Arrays for `fit()`: `({"encoder_inputs", "decoder_inputs"}, labels, sample_weight)`.

    The NumPy twin of the `tf.data` pipeline's batches (`kseq.data`): decoder
    inputs start with the start id, labels end with the end id, and padding
    weighs nothing in the loss.
    """
    rows = np.arange(len(target))
    lengths = np.sum(target != PAD_ID, axis=1)
    decoder_inputs = np.concatenate([np.full((len(target), 1), START_ID, np.int32), target], axis=1)
    labels = np.concatenate([target, np.full((len(target), 1), PAD_ID, np.int32)], axis=1)
    labels[rows, lengths] = END_ID
    sample_weight = (labels != PAD_ID).astype(np.float32)
    return {"encoder_inputs": source, "decoder_inputs": decoder_inputs}, labels, sample_weight


class LengthBatches(keras.utils.PyDataset):
    """`fit()` batches of about `tokens_per_batch` positions, grouped by length.

    The NumPy twin of `kseq.data.make_dataset`, for backends without
    `tf.data`. Each batch is padded to its bucket's length, so there are only
    a few shapes and a compiling backend (JAX, XLA) compiles a few times.

    Args:
        source, target: int32 arrays from `load`.
        tokens_per_batch: int. Positions per batch.
        shuffle: bool. New batches in a new order every epoch.
        seed: int. For the shuffle.
    """

    def __init__(self, source, target, tokens_per_batch, shuffle=False, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.source, self.target = source, target
        self.tokens_per_batch = tokens_per_batch
        self.shuffle = shuffle
        self.random = np.random.default_rng(seed)
        lengths = np.maximum((source != PAD_ID).sum(axis=1), (target != PAD_ID).sum(axis=1) + 1)
        self.bucket_lengths = buckets.bucket_lengths(int(lengths.max()))
        self.bucket = np.searchsorted(self.bucket_lengths, lengths)  # first bucket that holds it
        self.batches = self._batches()

    def _batches(self):
        order = self.random.permutation(len(self.bucket)) if self.shuffle else np.arange(len(self.bucket))
        batches = []
        for bucket, length in enumerate(self.bucket_lengths):
            rows = order[self.bucket[order] == bucket]
            size = buckets.batch_size(length, self.tokens_per_batch)
            batches += [(rows[i : i + size], length) for i in range(0, len(rows), size)]
        if self.shuffle:
            batches = [batches[i] for i in self.random.permutation(len(batches))]
        return batches

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        rows, length = self.batches[index]
        # Decoder inputs gain the start id: targets take one position less.
        return model_inputs(_width(self.source[rows], length), _width(self.target[rows], length - 1))

    def on_epoch_end(self):
        if self.shuffle:
            self.batches = self._batches()


def _width(ids, width):
    """`ids` cut or padded with 0 to `width` columns (only padding is cut)."""
    if ids.shape[1] >= width:
        return ids[:, :width]
    return np.pad(ids, ((0, 0), (0, width - ids.shape[1])), constant_values=PAD_ID)
