"""Parallel corpora (TSV, parallel text files, the built-in corpus), tokenized into id arrays.

Imports no TensorFlow: training runs on any Keras backend.
"""

import dataclasses
import hashlib
import logging
import os

import numpy as np

from kseq.builtin_corpus import builtin_pairs
from kseq.errors import DataError, UsageError
from kseq.special_ids import END_ID

logger = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")


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
    """Tokenized pairs ready for batching: int32 ids padded with 0."""

    source: np.ndarray  # (pairs, source steps), each row ending with END_ID
    target: np.ndarray  # (pairs, target steps), without START/END
    truncated: int = 0
    dropped: int = 0
    kept: np.ndarray = None  # the indices of the pairs kept, in order


def make_examples(pairs, source_vocabulary, target_vocabulary, max_source_length,
                  max_target_length, overlong="truncate", sampling_alpha=0.0):
    """Tokenizes pairs with `kseq.vocabulary.Vocabulary`s; overlong pairs are truncated or dropped.

    One position goes to the end id on the source side, and to the start
    (decoder input) or end (label) id on the target side. `sampling_alpha`
    > 0 samples the segmentations (`Vocabulary.encode`).
    """
    if overlong not in ("truncate", "drop"):
        raise UsageError(f"`overlong` must be 'truncate' or 'drop'. Received: overlong={overlong!r}")
    sources = source_vocabulary.encode((source for source, _ in pairs), sampling_alpha)
    targets = target_vocabulary.encode((target for _, target in pairs), sampling_alpha)
    too_long = [len(s) > max_source_length - 1 or len(t) > max_target_length - 1
                for s, t in zip(sources, targets)]
    if overlong == "drop":
        sources = [s for s, drop in zip(sources, too_long) if not drop]
        targets = [t for t, drop in zip(targets, too_long) if not drop]
    count = sum(too_long)
    return Examples(
        source=pad_rows([s[: max_source_length - 1] + [END_ID] for s in sources]),
        target=pad_rows([t[: max_target_length - 1] for t in targets]),
        truncated=count if overlong == "truncate" else 0,
        dropped=count if overlong == "drop" else 0,
        kept=np.flatnonzero(~np.array(too_long, bool) if overlong == "drop" else np.ones(len(pairs), bool)),
    )


def pad_rows(rows, width=None):
    """Lists of ids as an int32 array (rows, width or longest), padded with 0."""
    width = max(1, width or max((len(row) for row in rows), default=1))
    ids = np.zeros((len(rows), width), np.int32)
    for i, row in enumerate(rows):
        row = row[:width]
        ids[i, : len(row)] = row
    return ids
