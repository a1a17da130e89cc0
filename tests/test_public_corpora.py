import dataclasses
import hashlib
import io
import os
import socket
import zipfile

import pytest
from conftest import run_kseq

from kseq import public_corpora
from kseq.data import SPLITS, load_corpus
from kseq.errors import DownloadError
from kseq.public_corpora import PUBLIC_CORPORA, fetch_corpus, resolve_data

ATTRIBUTION = "CC-BY 2.0 (France) Attribution: tatoeba.org #1 (CK) & #2 (Someone)"


def spa_txt():
    """Anki-format lines: some English sources with several translations, some with a third column."""
    lines = []
    for i in range(300):
        lines.append(f"I have {i} books.\tTengo {i} libros.")
        if i % 3 == 0:
            lines.append(f"I have {i} books.\tYo tengo {i} libros.\t{ATTRIBUTION}")
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture
def served(tmp_path):
    """A local copy of the spa-eng zip: (file:// URL, the sha256 of its spa.txt, the pairs in it)."""
    data = spa_txt()
    path = tmp_path / "served" / "spa-eng.zip"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("spa-eng/spa.txt", data)
    pairs = [tuple(line.split("\t")[:2]) for line in data.decode("utf-8").splitlines()]
    return path.as_uri(), hashlib.sha256(data).hexdigest(), pairs


def closed_port_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/spa-eng.zip"


def test_fetch_splits_by_source_keeps_every_pair_and_says_where(tmp_path, served):
    url, sha256, pairs = served
    log = io.StringIO()
    directory = fetch_corpus("spa-eng", tmp_path / "cache" / "spa-eng", url, sha256, log=log)
    assert sorted(os.listdir(directory)) == ["README.txt", "test.tsv", "train.tsv", "valid.tsv"]
    assert os.listdir(tmp_path / "cache") == ["spa-eng"]  # no temporary files left
    corpus = load_corpus(str(directory))
    sources = {split: {source for source, _ in getattr(corpus, split)} for split in SPLITS}
    assert all(sources[split] for split in SPLITS)
    assert not sources["train"] & sources["valid"] and not sources["train"] & sources["test"]
    assert not sources["valid"] & sources["test"]
    assert sorted(corpus.train + corpus.valid + corpus.test) == sorted(pairs)
    assert "MB" in log.getvalue() and str(directory) in log.getvalue()


def test_a_second_call_downloads_nothing(tmp_path, served, monkeypatch):
    url, sha256, _ = served
    first = fetch_corpus("spa-eng", tmp_path / "spa-eng", url, sha256, log=io.StringIO())

    def no_download(*args):
        raise AssertionError("downloaded again")

    monkeypatch.setattr(public_corpora, "download", no_download)
    assert fetch_corpus("spa-eng", tmp_path / "spa-eng", url, sha256, log=io.StringIO()) == first


def test_a_bad_checksum_raises_and_leaves_nothing(tmp_path, served):
    url, _, _ = served
    with pytest.raises(DownloadError, match="sha256 .* expected 0{64}.*nothing was kept"):
        fetch_corpus("spa-eng", tmp_path / "cache" / "spa-eng", url, "0" * 64, log=io.StringIO())
    assert os.listdir(tmp_path / "cache") == []


@pytest.mark.parametrize("where", ["missing file", "closed port"])
def test_an_unreachable_url_gives_one_line(tmp_path, where):
    url = (tmp_path / "missing.zip").as_uri() if where == "missing file" else closed_port_url()
    with pytest.raises(DownloadError) as error:
        fetch_corpus("spa-eng", tmp_path / "cache" / "spa-eng", url, "0" * 64, log=io.StringIO())
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"Cannot download {url}: ")
    assert "Retry" in message and "--data" in message
    assert os.listdir(tmp_path / "cache") == []


def test_an_existing_path_wins_over_a_corpus_name(tmp_path, monkeypatch):
    monkeypatch.setattr(public_corpora, "fetch_corpus", lambda name: f"cache/{name}")
    assert resolve_data(["spa-eng"]) == "cache/spa-eng" and resolve_data("spa-eng") == "cache/spa-eng"
    assert resolve_data(["pairs.tsv"]) == ["pairs.tsv"] and resolve_data(None) is None
    assert resolve_data(["spa-eng", "other"]) == ["spa-eng", "other"]
    (tmp_path / "spa-eng").mkdir()
    monkeypatch.chdir(tmp_path)
    assert resolve_data(["spa-eng"]) == ["spa-eng"]


def test_kseq_data_downloads_into_the_cache_once(capsys, tmp_path, served, monkeypatch):
    url, sha256, _ = served
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setitem(PUBLIC_CORPORA, "spa-eng", dataclasses.replace(PUBLIC_CORPORA["spa-eng"], url=url,
                                                                        sha256=sha256))
    code, out, err = run_kseq(capsys, "data", "spa-eng")
    directory = str(tmp_path / "xdg" / "kseq" / "data" / "spa-eng")
    assert code == 0 and out.splitlines()[0] == directory and "Downloading" in err
    code, out, err = run_kseq(capsys, "data", "spa-eng")
    assert code == 0 and out.splitlines()[0] == directory and "Downloading" not in err


def test_kseq_data_offline_is_one_line(capsys, tmp_path, monkeypatch):
    url = closed_port_url()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setitem(PUBLIC_CORPORA, "spa-eng", dataclasses.replace(PUBLIC_CORPORA["spa-eng"], url=url))
    code, out, err = run_kseq(capsys, "data", "spa-eng")
    assert code == 1 and err.strip() == err.strip().splitlines()[0]
    assert err.startswith(f"kseq data: error: Cannot download {url}")
