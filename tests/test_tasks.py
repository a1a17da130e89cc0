"""A task that is not translation, end to end: train, pipeline, SavedModel, TFLite, `kseq serve`."""

import json
import random

import pytest

from kseq.tasks import output_key

DIGITS = "zero one two three four five six seven eight nine".split()


def test_output_keys_are_hugging_faces():
    assert output_key("translation") == "translation_text"
    assert output_key("summarization") == "summary_text"
    assert output_key("text2text-generation") == "generated_text"
    with pytest.raises(ValueError, match="Unknown task"):
        output_key("fill-mask")


@pytest.fixture(scope="session")
def spelling_run(tmp_path_factory):
    """The tiny preset taught to spell digit strings ("4 0 7" -> "four zero seven")."""
    from conftest import tiny_config

    from export.export_run import export_run
    from kseq.run_directory import RunDirectory
    from kseq.training import train

    tmp_path = tmp_path_factory.mktemp("spelling")
    random_ = random.Random(0)
    lines = []
    for _ in range(3000):
        digits = [random_.randrange(10) for _ in range(random_.randint(1, 6))]
        lines.append(" ".join(map(str, digits)) + "\t" + " ".join(DIGITS[d] for d in digits) + "\n")
    data = tmp_path / "spell.tsv"
    data.write_text("".join(lines), encoding="utf-8")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    train(tiny_config(data=str(data), epochs=3, task="text2text-generation"), RunDirectory(run_dir))
    export_run(str(run_dir), log=lambda *_: None)
    return run_dir


@pytest.mark.slow
def test_a_text2text_run_works_end_to_end(spelling_run):
    from conftest import Server

    import kseq
    from kseq.backends import load

    settings = json.loads((spelling_run / "config.json").read_text())["settings"]
    assert settings["task"] == "text2text-generation"
    generate = kseq.pipeline("text2text-generation", model=str(spelling_run))
    texts = ["4 0 7", "1 2"]
    outputs = [result["generated_text"] for result in generate(texts)]
    assert all(set(output.split()) <= set(DIGITS) for output in outputs)  # it spells
    with pytest.raises(ValueError, match="trained for 'text2text-generation'"):
        kseq.pipeline("translation", model=str(spelling_run))
    for backend in ("saved_model", "tflite", "tflite_ids"):
        assert load(str(spelling_run), backend).translate(texts)[0] == outputs, backend

    server = Server(spelling_run)
    try:
        _, metadata = server.get("/v1/models/kseq/metadata")
        assert metadata["kseq"]["task"] == "text2text-generation"
        assert metadata["kseq"]["output_key"] == "generated_text"
        status, body, _ = server.post({"instances": texts})
        assert status == 200 and [p["translation"] for p in body["predictions"]] == outputs
    finally:
        server.stop()
