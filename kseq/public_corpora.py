"""Public corpora kseq downloads by name: `kseq data spa-eng`, then `--data spa-eng`.

A corpus is downloaded once into the cache ($XDG_CACHE_HOME/kseq/data/NAME),
checked against its sha256, split by a hash of the source (`kseq.data`'s own
carving, so a source never lands in two splits) and written as train.tsv,
valid.tsv and test.tsv: a directory any `--data DIR` takes. Nothing is left
half-written: the directory appears whole or not at all.
"""

import dataclasses
import hashlib
import os
import shutil
import sys
import tempfile
import urllib.request
import zipfile

from kseq.cache import cache_dir
from kseq.data import SPLITS, load_corpus
from kseq.errors import DownloadError

CHUNK_BYTES = 1 << 16
TIMEOUT_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class PublicCorpus:
    """A zip to download: `member` is its `source<TAB>target` file, whose sha256 is `sha256`."""

    url: str
    member: str
    sha256: str
    about: str


PUBLIC_CORPORA = {
    "spa-eng": PublicCorpus(
        url="http://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip",
        member="spa-eng/spa.txt",
        sha256="6ec60e212f812ee3430f7568ea6f33b6fb080e32193c5952e8da0ee8ba45574c",
        about="English-Spanish sentence pairs from tatoeba.org via www.manythings.org/anki (CC-BY 2.0), "
        "the file keras.io's English-to-Spanish translation examples use: 118,964 pairs.",
    ),
}


def resolve_data(data):
    """`--data` as given, or the downloaded corpus's directory when it names one and no such path exists."""
    paths = [data] if isinstance(data, str) else data
    if paths and len(paths) == 1 and not os.path.exists(paths[0]) and paths[0] in PUBLIC_CORPORA:
        return fetch_corpus(paths[0])
    return data


def fetch_corpus(name, directory=None, url=None, sha256=None, log=None):
    """Downloads, checks and splits the public corpus `name` unless it is cached; returns its directory.

    Args:
        name: a key of `PUBLIC_CORPORA`.
        directory: where the splits go (default: $XDG_CACHE_HOME/kseq/data/NAME).
        url, sha256: override the corpus's (tests serve a local copy).
        log: a file for progress (default: stderr).
    """
    public = PUBLIC_CORPORA[name]
    url, sha256 = url or public.url, sha256 or public.sha256
    directory = directory or cache_dir("data", name)
    log = log or sys.stderr
    if all(os.path.isfile(os.path.join(directory, f"{split}.tsv")) for split in SPLITS):
        return directory
    parent = os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    partial = tempfile.mkdtemp(prefix=f".{name}.", dir=parent)
    try:
        archive = os.path.join(partial, "download.zip")
        download(url, archive, log)
        text_path = os.path.join(partial, os.path.basename(public.member))
        extract_checked(archive, public.member, sha256, text_path, url)
        corpus = load_corpus(text_path)
        for split in SPLITS:
            with open(os.path.join(partial, f"{split}.tsv"), "w", encoding="utf-8", newline="\n") as f:
                f.writelines(f"{source}\t{target}\n" for source, target in getattr(corpus, split))
        with open(os.path.join(partial, "README.txt"), "w", encoding="utf-8") as f:
            f.write(f"{public.about}\nFrom {url} ({public.member}, sha256 {sha256}).\n"
                    "Split by kseq.data's hash of the source: a source never lands in two splits.\n")
        os.remove(archive)
        os.remove(text_path)
        shutil.rmtree(directory, ignore_errors=True)  # an incomplete one, from an older kseq say
        os.replace(partial, directory)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    counts = ", ".join(f"{len(getattr(corpus, split)):,} {split}" for split in SPLITS)
    print(f"{name}: {counts} pairs in {directory}", file=log)
    return directory


def download(url, path, log):
    """Copies `url` to `path`, printing the megabytes done; a failure raises a one-line `DownloadError`."""
    done = 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response, open(path, "wb") as f:
            size = int(response.headers.get("Content-Length") or 0)
            total = f" / {size / 1e6:.1f}" if size else ""
            while chunk := response.read(CHUNK_BYTES):
                f.write(chunk)
                done += len(chunk)
                print(f"\rDownloading {url}: {done / 1e6:.1f}{total} MB", end="", file=log, flush=True)
    except OSError as error:  # urllib.error.URLError, a timeout or a dropped connection
        reason = " ".join(str(getattr(error, "reason", None) or error).split())
        raise DownloadError(f"Cannot download {url}: {reason}. Retry when online, or pass --data with "
                            "a local copy (a TSV file or a directory with train.tsv).") from None
    finally:
        if done:
            print(file=log)


def extract_checked(archive, member, sha256, path, url):
    """Writes `member` of the zip `archive` to `path` if its sha256 is `sha256`."""
    try:
        with zipfile.ZipFile(archive) as zip_file:
            data = zip_file.read(member)
    except (zipfile.BadZipFile, KeyError) as error:
        raise DownloadError(f"{url} is not the expected zip ({error}): retry, or pass --data with "
                            "a local copy.") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise DownloadError(f"{url}: {member} has sha256 {digest}, expected {sha256}. The download is "
                            "damaged or the file has changed upstream: nothing was kept; retry, or pass "
                            "--data with a local copy.")
    with open(path, "wb") as f:
        f.write(data)
