"""Atomic directory writes: a reader sees the old artifact or the new one, never half."""

import contextlib
import errno
import os
import shutil
import tempfile
import time

from kseq.errors import ArtifactExistsError, NoSpaceError
from kseq.run_directory import write_json

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
            needed = f"it needs about {expected_bytes / 1e6:.1f} MB, " if expected_bytes else ""
            free = shutil.disk_usage(parent).free / 1e6
            raise NoSpaceError(f"No space left to write {path}: {needed}{free:.1f} MB are free there. "
                               "Free some space and export again; the earlier artifacts are untouched.") from None
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
    """A test hook: with $KSEQ_TEST_HOLD_BEFORE_RENAME naming a file, a write that is whole
    but not yet renamed into `path` writes `path` (JSON) into that file and waits until the
    file is deleted, so that a test can look at the run or kill the process at that moment."""
    hold = os.environ.get(HOLD_BEFORE_RENAME)
    if not hold:
        return
    write_json(hold, path)
    while os.path.exists(hold):
        time.sleep(0.05)


def is_out_of_space(error):
    """Whether a write failed for want of space: an OSError, or TensorFlow's own error saying so."""
    if isinstance(error, OSError) and error.errno in NO_SPACE_ERRNOS:
        return True
    return type(error).__module__.startswith("tensorflow") and any(m in str(error) for m in NO_SPACE_MESSAGES)
