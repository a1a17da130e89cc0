"""Parallel corpora (TSV, parallel text files, the built-in corpus) and tf.data pipelines."""

import dataclasses
import functools
import hashlib
import logging
import os

import numpy as np
import tensorflow as tf

from kseq import buckets
from kseq.builtin_corpus import builtin_pairs
from kseq.tokenizer import END_ID, PAD_ID, START_ID

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


class DataError(ValueError):
    """Bad input data; the message names the file and line."""


@dataclasses.dataclass
class Corpus:
    """Train, validation and test pairs of (source, target) strings.

    `skipped` lists `file:line: reason` for every bad line that was skipped.
    """

    train: list
    valid: list
    test: list
    skipped: list = dataclasses.field(default_factory=list)


def read_tsv(path, skip_bad_lines=False, skipped=None):
    """Reads `source<TAB>target[<TAB>ignored...]` lines (Anki's format).

    A bad line (no tab, an empty side, invalid UTF-8) raises `DataError`
    naming `file:line`, or with `skip_bad_lines` is appended to `skipped`.
    """
    pairs = []
    for number, line in _lines(path, skip_bad_lines, skipped):
        fields = line.split("\t")
        source, target = fields[0].strip(), fields[1].strip() if len(fields) > 1 else ""
        if len(fields) < 2:
            reason = "no tab (expected 'source<TAB>target')"
        elif not source:
            reason = "empty source side"
        elif not target:
            reason = "empty target side"
        else:
            pairs.append((source, target))
            continue
        _bad_line(f"{path}:{number}: {reason}", skip_bad_lines, skipped)
    return pairs


def read_parallel(source_path, target_path, skip_bad_lines=False, skipped=None):
    """Reads two line-aligned text files, one sentence per line."""
    sources = dict(_lines(source_path, skip_bad_lines, skipped))
    targets = dict(_lines(target_path, skip_bad_lines, skipped))
    if max(sources, default=0) != max(targets, default=0):
        raise DataError(
            f"{source_path} has {max(sources, default=0)} lines but {target_path} has "
            f"{max(targets, default=0)}: parallel files must be line-aligned."
        )
    pairs = []
    for number in sorted(sources.keys() & targets.keys()):
        source, target = sources[number].strip(), targets[number].strip()
        if source and target:
            pairs.append((source, target))
            continue
        path = source_path if not source else target_path
        _bad_line(f"{path}:{number}: empty line", skip_bad_lines, skipped)
    return pairs


def load_corpus(data=None, skip_bad_lines=False, held_out_fraction=0.02):
    """Loads a corpus from `data`.

    Args:
        data: None (the built-in corpus), a TSV file (train split), a
            directory with `train.tsv` and optionally `valid.tsv` and
            `test.tsv`, or a list of two line-aligned text files.
        skip_bad_lines: bool. Skip and count bad lines instead of stopping.
        held_out_fraction: float. Share of the training pairs carved out for
            each missing valid/test split, chosen by a hash of the source so
            that a source never lands in two splits.
    """
    skipped = []
    read = dict(skip_bad_lines=skip_bad_lines, skipped=skipped)
    if isinstance(data, (list, tuple)) and len(data) == 1:
        data = data[0]
    if data is None:
        splits = _carve(builtin_pairs(), {}, held_out_fraction=1 / 30)
    elif isinstance(data, (list, tuple)):
        if len(data) != 2:
            raise DataError(f"Expected a TSV file, a directory, or two parallel files. Received: {data}")
        splits = _carve(read_parallel(*data, **read), {}, held_out_fraction)
    elif os.path.isdir(data):
        train_path = os.path.join(data, "train.tsv")
        if not os.path.isfile(train_path):
            raise DataError(f"{data} has no train.tsv (expected train.tsv, and optionally valid.tsv and test.tsv).")
        given = {
            split: read_tsv(os.path.join(data, f"{split}.tsv"), **read)
            for split in ("valid", "test")
            if os.path.isfile(os.path.join(data, f"{split}.tsv"))
        }
        splits = _carve(read_tsv(train_path, **read), given, held_out_fraction)
    elif os.path.isfile(data):
        splits = _carve(read_tsv(data, **read), {}, held_out_fraction)
    else:
        raise DataError(f"No such file or directory: {data}")
    for split in SPLITS:
        if not splits[split]:
            raise DataError(f"The {split} split of {data or 'the built-in corpus'} is empty.")
    if skipped:
        logger.warning("Skipped %d bad lines, the first: %s", len(skipped), skipped[0])
    return Corpus(**splits, skipped=skipped)


def _carve(train, given, held_out_fraction):
    """Splits missing valid/test pairs off `train`, by a stable hash of the source."""
    splits = {"train": [], **given}
    missing = [split for split in ("valid", "test") if split not in given]
    for split in missing:
        splits[split] = []
    for pair in train:
        bucket = int(hashlib.md5(pair[0].encode("utf-8")).hexdigest(), 16) % 10_000 / 10_000
        index = int(bucket / held_out_fraction)
        splits[missing[index] if index < len(missing) else "train"].append(pair)
    return splits


def _lines(path, skip_bad_lines, skipped):
    """Yields (line number, text) for each non-final line of a UTF-8 file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise DataError(f"Cannot read {path}: {error.strerror}") from None
    if not data.strip():
        raise DataError(f"{path} is empty.")
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    if lines[0].startswith(b"\xef\xbb\xbf"):  # UTF-8 byte-order mark
        lines[0] = lines[0][3:]
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.rstrip(b"\r").decode("utf-8")
        except UnicodeDecodeError as error:
            _bad_line(f"{path}:{number}: invalid UTF-8 at byte {error.start}", skip_bad_lines, skipped)
            continue
        yield number, line


def _bad_line(message, skip_bad_lines, skipped):
    if not skip_bad_lines:
        raise DataError(f"{message}. Fix the line, or pass --skip-bad-lines to skip such lines.")
    skipped.append(message)


@dataclasses.dataclass
class Examples:
    """Tokenized pairs ready for batching: ragged int32 ids."""

    source_ids: tf.RaggedTensor  # (pairs, source steps), ending with END_ID
    target_ids: tf.RaggedTensor  # (pairs, target steps), without START/END
    truncated: int = 0
    dropped: int = 0


def add_end_id(ids, max_length):
    """Truncates 0-padded ids (batch, steps) to `max_length - 1` and appends the end id.

    Training and every translator build their source ids here, so all see
    the same convention (and an empty input is never empty). Dense ops only:
    the TFLite models run this too.
    """
    ids = ids[:, : max_length - 1]
    ids = tf.pad(ids, [[0, 0], [0, 1]])
    lengths = tf.reduce_sum(tf.cast(ids != PAD_ID, tf.int32), axis=1, keepdims=True)
    positions = tf.range(tf.shape(ids)[1])[tf.newaxis, :]
    return tf.where(positions == lengths, tf.constant(END_ID, ids.dtype), ids)


def tokenize(texts, tokenizer, batch_size=4096):
    """Ragged ids for a list of strings, tokenized by tf.data in parallel batches."""
    dataset = (
        tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
        .batch(batch_size)
        .map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    )
    return tf.concat(list(dataset), axis=0)


def make_examples(pairs, source_tokenizer, target_tokenizer, max_source_length,
                  max_target_length, overlong="truncate"):
    """Tokenizes pairs; pairs longer than the limits are truncated or dropped."""
    if overlong not in ("truncate", "drop"):
        raise ValueError(f"`overlong` must be 'truncate' or 'drop'. Received: overlong={overlong!r}")
    source_ids = tokenize([source for source, _ in pairs], source_tokenizer)
    target_ids = tokenize([target for _, target in pairs], target_tokenizer)
    # One position goes to the end id on the source side, and to the start
    # (decoder input) or end (label) id on the target side.
    too_long = (source_ids.row_lengths() > max_source_length - 1) | (
        target_ids.row_lengths() > max_target_length - 1
    )
    count = int(tf.reduce_sum(tf.cast(too_long, tf.int32)))
    if overlong == "drop" and count:
        keep = tf.logical_not(too_long)
        source_ids = tf.ragged.boolean_mask(source_ids, keep)
        target_ids = tf.ragged.boolean_mask(target_ids, keep)
    return Examples(
        source_ids=tf.RaggedTensor.from_tensor(
            add_end_id(source_ids.to_tensor(PAD_ID), max_source_length), padding=PAD_ID
        ),
        target_ids=target_ids[:, : max_target_length - 1],
        truncated=count if overlong == "truncate" else 0,
        dropped=count if overlong == "drop" else 0,
    )


def make_dataset(examples, tokens_per_batch, shuffle=False, seed=0, max_length=None,
                 pad_to_bucket=False):
    """Batches examples by length, each batch about `tokens_per_batch` positions.

    Yields `({"encoder_inputs", "decoder_inputs"}, labels, sample_weight)`,
    padded with 0; `sample_weight` masks the padding out of the loss.

    Args:
        pad_to_bucket: bool. Pad every batch to its bucket's length rather
            than to its longest pair: a few shapes in all, so XLA compiles the
            step a few times instead of once per batch width.
    """
    lengths = np.maximum(examples.source_ids.row_lengths().numpy(),
                         examples.target_ids.row_lengths().numpy() + 1)
    max_length = int(max_length or lengths.max())
    bucket_lengths = buckets.bucket_lengths(max_length)
    batch_sizes = [buckets.batch_size(b, tokens_per_batch) for b in bucket_lengths]

    dataset = tf.data.Dataset.from_tensor_slices((examples.source_ids, examples.target_ids))
    # Rows of a ragged tensor come out as ragged specs; an identity map makes
    # them plain tensors, which `padded_batch` needs.
    dataset = dataset.map(lambda source, target: (source, target))
    if shuffle:
        dataset = dataset.shuffle(len(lengths), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda source, target: tf.maximum(
            tf.shape(source)[0], tf.shape(target)[0] + 1
        ),
        bucket_boundaries=[b + 1 for b in bucket_lengths[:-1]],
        bucket_batch_sizes=batch_sizes,
    )
    if pad_to_bucket:
        dataset = dataset.map(functools.partial(_pad_to_bucket, bucket_lengths=bucket_lengths))
    return dataset.map(_to_model_inputs, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )


def _pad_to_bucket(source_ids, target_ids, bucket_lengths):
    """Pads a batch to the first bucket length that holds it (targets one less: the start id)."""
    width = tf.maximum(tf.shape(source_ids)[1], tf.shape(target_ids)[1] + 1)
    bucket_lengths = tf.constant(bucket_lengths, tf.int32)
    length = tf.gather(bucket_lengths, tf.argmax(bucket_lengths >= width, output_type=tf.int32))
    source_ids = tf.pad(source_ids, [[0, 0], [0, length - tf.shape(source_ids)[1]]])
    target_ids = tf.pad(target_ids, [[0, 0], [0, length - 1 - tf.shape(target_ids)[1]]])
    return source_ids, target_ids


def _to_model_inputs(source_ids, target_ids):
    batch = tf.shape(target_ids)[0]
    start = tf.fill([batch, 1], START_ID)
    end = tf.fill([batch, 1], PAD_ID)
    decoder_inputs = tf.concat([start, target_ids], axis=1)
    # The end id goes right after each row's last token, padding stays 0.
    labels = tf.concat([target_ids, end], axis=1)
    lengths = tf.reduce_sum(tf.cast(target_ids != PAD_ID, tf.int32), axis=1)
    labels = tf.tensor_scatter_nd_update(
        labels, tf.stack([tf.range(batch), lengths], axis=1), tf.fill([batch], END_ID)
    )
    sample_weight = tf.cast(labels != PAD_ID, tf.float32)
    inputs = {"encoder_inputs": source_ids, "decoder_inputs": decoder_inputs}
    return inputs, labels, sample_weight
