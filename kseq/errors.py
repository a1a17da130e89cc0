"""The errors kseq raises for things a user can fix.

Each message names the file, line or flag at fault and says what to do.
The library raises them; `kseq.commands.main` alone turns them into one
line on stderr and an exit code. Each also derives from the built-in type
a caller would expect (`ValueError`, `FileNotFoundError`, `OSError`), so
`except ValueError` keeps working.
"""


class KseqError(Exception):
    """Base class: a problem with the user's input, files or machine, not a bug in kseq."""

    exit_code = 1


class UsageError(KseqError, ValueError):
    """A command-line argument or function argument that cannot work."""

    exit_code = 2


class DataError(KseqError, ValueError):
    """Bad input data; the message names the file and line."""


class RunDirectoryError(KseqError, ValueError):
    """A run directory that is damaged, foreign, finished, claimed or of another format."""


class MissingFileError(KseqError, FileNotFoundError):
    """A file a command needs is not there (a run directory without its export, say)."""


class ArtifactExistsError(KseqError, FileExistsError):
    """An export would replace an existing artifact that the user did not ask to replace."""


class WriteError(KseqError, OSError):
    """A file could not be written: the message names the directory, its free space and how to go on."""


class NoSpaceError(WriteError):
    """The disk (or the file size limit) is full: the message names the directory and the space needed."""


class TrainingError(KseqError, RuntimeError):
    """Training ended without a model to evaluate (the loss became NaN before any checkpoint)."""


class DownloadError(KseqError, OSError):
    """A corpus could not be downloaded, or what came is not the expected file (a checksum mismatch)."""
