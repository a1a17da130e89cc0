"""Atomic directory writes: a reader sees the old artifact or the new one, never half."""

import contextlib
import os
import shutil
import tempfile


@contextlib.contextmanager
def atomic_directory(path, overwrite=False):
    """Yields a temporary directory beside `path`, renamed to `path` on success.

    On failure the temporary directory is removed and `path` is untouched.
    An existing `path` is replaced only with `overwrite=True`.
    """
    path = os.path.abspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists: pass --overwrite to replace it.")
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.partial-", dir=parent)
    # mkdtemp makes it 0700, and the mode would survive the rename: give it
    # its parent's (the run directory's), so a model server running as
    # another user can read the export as it reads the rest of the run.
    os.chmod(temporary, os.stat(parent).st_mode & 0o777)
    try:
        yield temporary
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    if os.path.exists(path):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old-", dir=parent)
        os.replace(path, os.path.join(old, "previous"))
        os.replace(temporary, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temporary, path)
