import pytest

import kseq


def test_pipeline_returns_translation_text_dicts(tiny_run):
    run_dir, _ = tiny_run
    translate = kseq.pipeline("translation", model=str(run_dir), batch_size=1)
    results = translate(["Hello.", "Thank you."])
    assert len(results) == 2 and all(isinstance(r["translation_text"], str) for r in results)
    assert translate("Hello.") == results[:1]


def test_pipeline_refuses_other_tasks_and_bad_batch_sizes(tiny_run):
    run_dir, _ = tiny_run
    with pytest.raises(ValueError, match="translation"):
        kseq.pipeline("summarization", model=str(run_dir))
    with pytest.raises(ValueError, match="batch_size"):
        kseq.pipeline("translation", model=str(run_dir), batch_size=0)
