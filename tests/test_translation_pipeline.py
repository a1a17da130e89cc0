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


@pytest.mark.parametrize("bad", [None, 3, ["Hello.", 3], b"Hello."])
def test_pipeline_takes_a_str_or_a_list_of_str(tiny_run, bad):
    translate = kseq.pipeline("translation", model=str(tiny_run[0]))
    with pytest.raises(TypeError, match="a str or a list of str"):
        translate(bad)


def test_pipeline_names_the_task_the_run_was_trained_for(tiny_run):
    with pytest.raises(ValueError, match="trained for 'translation', not 'summarization'"):
        kseq.pipeline("summarization", model=str(tiny_run[0]))
    with pytest.raises(ValueError, match="Unknown task"):
        kseq.pipeline("fill-mask", model=str(tiny_run[0]))
