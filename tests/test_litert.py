import concurrent.futures

import numpy as np

from kseq.litert import LiteRTModel


def test_one_interpreter_from_eight_threads_gives_sequential_results(tiny_export):
    model = LiteRTModel(tiny_export / "tflite" / "translator_ids.tflite")
    inputs = [np.array([[4 + i, 5 + i, 3] + [0] * 37], np.int32) for i in range(16)]
    sequential = [model(source_ids=x)["ids"] for x in inputs]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        threaded = list(pool.map(lambda x: model(source_ids=x)["ids"], inputs))
    for a, b in zip(sequential, threaded):
        np.testing.assert_array_equal(a, b)


def test_text_model_signature(tiny_export):
    model = LiteRTModel(tiny_export / "tflite" / "translator_text.tflite")
    outputs = model(text=np.array(["Ten books."], dtype=object))
    assert set(outputs) == {"translation", "ids"}
    assert outputs["translation"].shape == (1,)
