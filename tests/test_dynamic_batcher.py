"""`DynamicBatcher` with a fake model: which requests share a model call, and who gets which rows."""

import asyncio
import threading

import pytest

from kseq.dynamic_batcher import DynamicBatcher


class EchoModel:
    """Answers each value with itself upper-cased; records the rows of every call; refuses the value "bad"."""

    def __init__(self):
        self.calls = []
        self.threads = set()

    def run(self, signature, values):
        self.calls.append((signature, list(values)))
        self.threads.add(threading.get_ident())
        if "bad" in values:
            raise ValueError("bad input")
        return {"echo": [f"{signature}:{value.upper()}" for value in values]}


def serve(batcher, *requests, pause_s=0.0):
    """Submits the (signature, values) requests together (`pause_s` apart) -> their answers or errors, in order."""
    async def submit_all():
        async def submit(i, signature, values):
            await asyncio.sleep(i * pause_s)
            return await batcher.submit(signature, values)

        try:
            return await asyncio.gather(*(submit(i, *request) for i, request in enumerate(requests)),
                                        return_exceptions=True)
        finally:
            batcher.close()

    return asyncio.run(submit_all())


def test_requests_that_arrive_together_share_one_call_and_each_gets_its_own_rows():
    model = EchoModel()
    answers = serve(DynamicBatcher(model, max_batch_size=8, timeout_s=0.5),
                    ("sig", ["a"]), ("sig", ["b", "c"]), ("sig", ["d"]))
    assert model.calls == [("sig", ["a", "b", "c", "d"])]
    assert answers == [({"echo": ["sig:A"]}, 4), ({"echo": ["sig:B", "sig:C"]}, 4), ({"echo": ["sig:D"]}, 4)]


def test_a_batch_is_closed_by_its_timeout():
    model = EchoModel()
    answers = serve(DynamicBatcher(model, max_batch_size=8, timeout_s=0.01), ("sig", ["a"]), ("sig", ["b"]),
                    pause_s=0.5)
    assert model.calls == [("sig", ["a"]), ("sig", ["b"])]
    assert [rows for _, rows in answers] == [1, 1]


def test_a_request_that_would_overflow_the_batch_opens_the_next():
    model = EchoModel()
    answers = serve(DynamicBatcher(model, max_batch_size=4, timeout_s=0.5),
                    ("sig", ["a", "b", "c"]), ("sig", ["d", "e"]))
    assert model.calls == [("sig", ["a", "b", "c"]), ("sig", ["d", "e"])]
    assert answers == [({"echo": ["sig:A", "sig:B", "sig:C"]}, 3), ({"echo": ["sig:D", "sig:E"]}, 2)]


def test_a_request_larger_than_the_batch_is_decoded_in_chunks():
    model = EchoModel()
    values = [chr(ord("a") + i) for i in range(10)]
    [(outputs, rows)] = serve(DynamicBatcher(model, max_batch_size=4, timeout_s=0.01), ("sig", values))
    assert [len(call) for _, call in model.calls] == [4, 4, 2]
    assert outputs == {"echo": [f"sig:{v.upper()}" for v in values]} and rows == 4


def test_without_merging_every_request_runs_alone():
    model = EchoModel()
    answers = serve(DynamicBatcher(model, max_batch_size=8, timeout_s=0.5, merge=False),
                    ("sig", ["a"]), ("sig", ["b"]))
    assert model.calls == [("sig", ["a"]), ("sig", ["b"])]
    assert answers == [({"echo": ["sig:A"]}, 1), ({"echo": ["sig:B"]}, 1)]


def test_signatures_are_never_merged():
    model = EchoModel()
    answers = serve(DynamicBatcher(model, max_batch_size=8, timeout_s=0.2), ("one", ["a"]), ("two", ["b"]))
    assert sorted(model.calls) == [("one", ["a"]), ("two", ["b"])]
    assert answers == [({"echo": ["one:A"]}, 1), ({"echo": ["two:B"]}, 1)]


def test_an_input_that_breaks_the_batch_fails_only_its_own_request():
    model = EchoModel()
    good, bad, other = serve(DynamicBatcher(model, max_batch_size=8, timeout_s=0.5),
                             ("sig", ["a"]), ("sig", ["bad"]), ("sig", ["c"]))
    assert model.calls[0] == ("sig", ["a", "bad", "c"])  # merged, failed, then run alone
    assert good == ({"echo": ["sig:A"]}, 1) and other == ({"echo": ["sig:C"]}, 1)
    assert isinstance(bad, ValueError) and str(bad) == "bad input"


def test_the_model_runs_in_one_thread_off_the_event_loop():
    model = EchoModel()
    serve(DynamicBatcher(model, max_batch_size=1, timeout_s=0.0), *[("sig", [str(i)]) for i in range(6)])
    assert len(model.calls) == 6 and len(model.threads) == 1
    assert threading.get_ident() not in model.threads


def test_close_shuts_the_model_thread():
    batcher = DynamicBatcher(EchoModel())
    serve(batcher, ("sig", ["a"]))  # which closes it
    with pytest.raises(RuntimeError, match="shutdown"):
        batcher.executor.submit(print)
