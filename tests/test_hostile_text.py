"""Arbitrary Unicode through every backend: never a crash, always valid text, deterministic."""

import concurrent.futures

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kseq.backends import load

BACKENDS = ("keras", "saved_model", "tflite", "tflite_ids")
EXAMPLES_PER_BACKEND = 12  # CI-sized; raise it locally to search harder

HOSTILE = [
    "", " ", "\t\n ", "\x00", "a\x00b", "\u202eRight-to-left override\u202c",
    "שלום עולם", "مرحبا بالعالم", "e\u0301\u0302\u0303", "👩‍👩‍👧‍👦🏳️‍🌈", "\ufeffBOM",
    "\U0010ffff", "\x07\x1b[31m", "Ten books." * 1000,
]
texts = st.text(st.characters(codec="utf-8"), max_size=200) | st.sampled_from(HOSTILE)


@pytest.fixture(scope="session")
def backends(tiny_export):
    return {name: load(tiny_export, name) for name in BACKENDS}


@pytest.mark.parametrize("name", BACKENDS)
def test_hostile_batches(backends, name):
    backend = backends[name]

    @settings(max_examples=EXAMPLES_PER_BACKEND, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(texts, min_size=1, max_size=64))
    @example(HOSTILE)
    @example(["x" * 10_000])
    def check(batch):
        translations, ids = backend.translate(batch)
        assert len(translations) == len(batch) == ids.shape[0]
        for translation in translations:
            assert isinstance(translation, str)
            translation.encode("utf-8")  # valid UTF-8, no lone surrogates
        assert backend.translate(batch)[0] == translations  # same input, same output

    check()


@pytest.mark.parametrize("name", BACKENDS)
def test_eight_threads_return_what_sequential_calls_return(backends, name):
    backend = backends[name]
    inputs = [[f"The answer is {n}.", "Ten books."] for n in ("one", "two", "three", "four")] * 4
    sequential = [backend.translate(batch)[0] for batch in inputs]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(lambda batch: backend.translate(batch)[0], inputs))
    assert threaded == sequential
