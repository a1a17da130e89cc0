"""Shared fixtures: one tiny model trained once per test session."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from kseq.training_config import TrainingConfig

REPO = pathlib.Path(__file__).resolve().parent.parent


def tiny_config(**overrides):
    """The `tiny` preset's `TrainingConfig`, with overrides (field=value)."""
    # Fewer, larger decoding calls: a faster suite.
    return TrainingConfig.from_preset("tiny", **{"eval_batch_size": 256, **overrides})


@pytest.fixture(scope="session")
def spa_eng():
    """The English-Spanish corpus directory: $KSEQ_SPA_ENG, `kseq data spa-eng`'s cache, or CI's copy."""
    from kseq.cache import cache_dir

    variable = os.environ.get("KSEQ_SPA_ENG")
    cached = pathlib.Path(cache_dir("data", "spa-eng"))
    beside = REPO.parent / "shared" / "data" / "spa-eng"  # where CI has it
    if variable and pathlib.Path(variable).is_dir():
        return pathlib.Path(variable)
    if (cached / "train.tsv").is_file():
        return cached
    if beside.is_dir():
        return beside
    pytest.skip(f"no spa-eng corpus in $KSEQ_SPA_ENG ({variable or 'not set'}), in {cached} "
                f"(`kseq data spa-eng`) or in {beside}.")


@pytest.fixture(scope="session")
def spa_eng_vocabulary(spa_eng):
    """An 8,000-piece SentencePiece model (bytes) learned once on spa-eng's training split."""
    from kseq.data import read_tsv
    from kseq.vocabulary import learn_vocabulary

    return learn_vocabulary(text for pair in read_tsv(spa_eng / "train.tsv") for text in pair)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """9,000 pairs of the built-in corpus in a TSV file: a tiny model trains an epoch on them in seconds."""
    from kseq.builtin_corpus import builtin_pairs

    path = tmp_path_factory.mktemp("tiny_data") / "pairs.tsv"
    path.write_text("".join(f"{source}\t{target}\n" for source, target in builtin_pairs()[:9000]),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_data):
    """A run directory trained on `tiny_data` with the tiny preset for 3 epochs."""
    from kseq.run_directory import RunDirectory
    from kseq.training import train

    run_dir = tmp_path_factory.mktemp("tiny_run")
    metrics = train(tiny_config(epochs=3, data=str(tiny_data)), RunDirectory(run_dir))
    return run_dir, metrics


@pytest.fixture(scope="session")
def tiny_graph(tiny_run):
    """The tiny run's `TranslationGraph`: the tf.Module the exports save."""
    from kseq.run_directory import RunDirectory
    from kseq.tf.translation_graph import TranslationGraph

    run = RunDirectory(tiny_run[0])
    return TranslationGraph(run.load_model(), *run.tokenizers())


@pytest.fixture(scope="session")
def tiny_export(tiny_run):
    """The tiny run exported: SavedModel and TFLite (float32, float16, dynamic)."""
    from export.export_run import export_run

    run_dir, _ = tiny_run
    export_run(str(run_dir), quantize=("float16", "dynamic"), log=lambda *_: None)
    return run_dir


def run_kseq(capsys, *args, stdin=None, monkeypatch=None):
    """`kseq ARGS` in this process: (exit code, stdout, stderr)."""
    import io

    from kseq.commands import main

    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    try:
        main([str(arg) for arg in args])
        code = 0
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    return code, out, err


def held_out_sources(count=32):
    """Held-out built-in sources plus the edge inputs every artifact must take."""
    from kseq.data import load_corpus

    sources = [source for source, _ in load_corpus(None).test[:count]]
    return sources, ["", "   ", "one " * 200, "Ten ∑ books ß", "😀 It is one o'clock. 🚆"]


@pytest.fixture(scope="session")
def tiny_keras(tiny_run):
    """The tiny run's Keras translator (`kseq.load`)."""
    from kseq.backends import load

    run_dir, _ = tiny_run
    return load(run_dir, "keras")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`kseq serve RUN_DIR` in its own process, on a free loopback port."""

    def __init__(self, run_dir, *flags):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kseq", "serve", str(run_dir), "--port", str(self.port), *flags],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.process.stderr.read()[-3000:])
            try:
                self.get("/v1/models/kseq")
                return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError("the server did not start")

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=60) as response:
            return response.status, json.loads(response.read())

    def post(self, body, path="/v1/models/kseq:predict"):
        """(status, JSON body, headers) of a POST; 4xx answers too."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, json.loads(response.read()), response.headers
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read()), error.headers

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        finally:
            self.process.kill()
