import numpy as np
import pytest

from kseq.batch_translation import translate_batches


class Reverser:
    """A translator that reverses each text and records the batches it was given."""

    def __init__(self):
        self.batches = []

    def translate(self, texts):
        self.batches.append(list(texts))
        return [t[::-1] for t in texts], np.array([[len(t), 0] for t in texts], np.int32)


def test_batches_go_by_length_and_results_come_back_in_order():
    texts = ["ccc", "a", "bbbbb", "dd", "e"]
    translator = Reverser()
    translations, ids = translate_batches(translator, texts, batch_size=2)
    assert translations == ["ccc", "a", "bbbbb"[::-1], "dd", "e"]
    assert ids[:, 0].tolist() == [3, 1, 5, 2, 1] and ids.dtype == np.int32
    assert translator.batches == [["a", "e"], ["dd", "ccc"], ["bbbbb"]]


class SlowReverser(Reverser):
    """Each batch takes a second of a fake clock: Keras' progress bar reads `time.time()`."""

    def __init__(self):
        super().__init__()
        self.now = 1000.0

    def time(self):
        return self.now

    def translate(self, texts):
        self.now += 1.0
        return super().translate(texts)


def test_progress_into_a_log_is_a_line_now_and_then(capsys, monkeypatch):
    import inspect

    import keras

    translator = SlowReverser()
    monkeypatch.setattr(inspect.getmodule(keras.utils.Progbar), "time", translator)  # the clock it reads
    translate_batches(translator, ["a"] * 20, batch_size=1, progress=True)
    lines = capsys.readouterr().out.strip().splitlines()  # not a terminal: the first and the last of 20 s
    assert len(lines) == 2 and "20/20" in lines[-1]


def test_no_texts_and_a_bad_batch_size():
    assert translate_batches(Reverser(), [])[0] == []
    with pytest.raises(ValueError, match="batch_size"):
        translate_batches(Reverser(), ["a"], batch_size=0)


def test_batching_and_order_do_not_change_a_models_translations(tiny_keras):
    sources = ["Ten books.", "The train leaves at half past two.", "Two cats.", "Today is May first."]
    one_by_one = [tiny_keras.translate([s]) for s in sources]
    translations, ids = translate_batches(tiny_keras, sources, batch_size=3)
    assert translations == [text[0] for text, _ in one_by_one]
    assert (ids == np.concatenate([row for _, row in one_by_one])).all()
