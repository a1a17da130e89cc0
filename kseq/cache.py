"""Where kseq keeps what it can rebuild (compiled steps, downloaded corpora): $XDG_CACHE_HOME/kseq."""

import os


def cache_dir(*parts):
    """$XDG_CACHE_HOME/kseq/PARTS..., or ~/.cache/kseq/PARTS... when XDG_CACHE_HOME is not set."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kseq", *parts)
