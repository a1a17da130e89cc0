import os

from kseq.cache import cache_dir
from kseq.device import default_compilation_cache_dir


def test_cache_dir_follows_xdg_cache_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir("data", "spa-eng") == os.path.join(tmp_path, "kseq", "data", "spa-eng")
    assert default_compilation_cache_dir() == os.path.join(tmp_path, "kseq", "jax")


def test_cache_dir_defaults_to_dot_cache_in_home(monkeypatch, tmp_path):
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == os.path.join(tmp_path, ".cache", "kseq")
