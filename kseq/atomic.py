"""Atomic writes: a reader sees the old file or directory or the new one, never half.

Export writes its artifacts with `atomic_directory`, training its files with
`atomic_file`. `write_error` is the one-line error both report when a write
fails (`NoSpaceError` on a full disk).
"""

import contextlib
import errno
import json
import os
import shutil
import tempfile
import time

from kseq.errors import ArtifactExistsError, KseqError, NoSpaceError, WriteError

NO_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# TensorFlow's C++ writers raise `tf.errors.OpError`s that carry only strerror's text.
NO_SPACE_MESSAGES = ("No space left on device", "Disk quota exceeded", "File too large")
# A test hook: see `hold_before_rename`.
HOLD_BEFORE_RENAME = "KSEQ_TEST_HOLD_BEFORE_RENAME"


@contextlib.contextmanager
def atomic_directory(path, overwrite=False, expected_bytes=None):
    """Yields a temporary directory beside `path`, renamed to `path` on success.

    On failure the temporary directory is removed and `path` is untouched.
    An existing `path` is replaced only with `overwrite=True`. A full disk
    (or file size limit) raises `NoSpaceError`, naming `path` and, when
    `expected_bytes` is given, the space the write needs.
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and not overwrite:
        raise ArtifactExistsError(f"{path} already exists: pass --overwrite to replace it.")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.partial-", dir=parent)
    # mkdtemp makes it 0700, and the mode would survive the rename: give it
    # its parent's (the run directory's), so a model server running as
    # another user can read the export as it reads the rest of the run.
    os.chmod(temporary, os.stat(parent).st_mode & 0o777)
    try:
        yield temporary
    except BaseException as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if is_out_of_space(error):
            raise write_error(error, path, "Free some space and export again; the earlier artifacts are untouched.",
                              expected_bytes) from None
        raise
    hold_before_rename(path)
    if os.path.exists(path):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-", dir=parent)
        os.replace(path, os.path.join(old, "previous"))
        os.replace(temporary, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temporary, path)


def hold_before_rename(path):
    """A test hook: with $KSEQ_TEST_HOLD_BEFORE_RENAME naming a file, a directory that is whole
    but not yet renamed into `path` writes `path` (JSON) into that file and waits until the
    file is deleted, so that a test can look at the run or kill the process at that moment."""
    hold = os.environ.get(HOLD_BEFORE_RENAME)
    if not hold:
        return
    with open(f"{hold}.tmp", "w", encoding="utf-8") as f:
        json.dump(path, f)
    os.replace(f"{hold}.tmp", hold)  # the test never reads it half-written
    while os.path.exists(hold):
        time.sleep(0.05)


@contextlib.contextmanager
def atomic_file(path):
    """Yields a temporary path beside `path`, renamed to `path` on success.

    On failure the temporary file is removed and `path` is untouched. The
    temporary name ends as `path` does: Keras and matplotlib read the format
    from it (`.keras`, `.weights.h5`, `.png`).
    """
    directory, name = os.path.split(os.fspath(path))
    temporary = os.path.join(directory, f".partial.{name}")
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise


def write_error(error, path, advice, expected_bytes=None):
    """The one-line error for a write to `path` that failed with `error`, ending in `advice`.

    `NoSpaceError` for a full disk (naming the space needed, when
    `expected_bytes` is given, and the space free), `WriteError` otherwise.
    """
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    free = f"{shutil.disk_usage(directory).free / 1e6:.1f} MB are free there"
    if is_out_of_space(error):
        needed = f"it needs about {expected_bytes / 1e6:.1f} MB, " if expected_bytes else ""
        return NoSpaceError(f"No space left to write {path}: {needed}{free}. {advice}")
    reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return WriteError(f"Cannot write to {path}: {reason} ({free}). {advice}")


def is_write_failure(error):
    """Whether `error` is a failed write (an OSError, or TensorFlow's full disk), not one of kseq's own errors."""
    return (isinstance(error, OSError) and not isinstance(error, KseqError)) or is_out_of_space(error)


def is_out_of_space(error):
    """Whether a write failed for want of space: an OSError, or TensorFlow's own error saying so."""
    if isinstance(error, OSError) and error.errno in NO_SPACE_ERRNOS:
        return True
    # h5py's OSErrors and TensorFlow's `OpError`s carry the reason in their text only.
    says_so = any(m in str(error) for m in NO_SPACE_MESSAGES)
    return says_so and (isinstance(error, OSError) or type(error).__module__.startswith("tensorflow"))
