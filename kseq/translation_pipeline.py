"""`kseq.pipeline(task, model=RUN_DIR)`, in Hugging Face's pipeline convention."""

from kseq import run_directory as rd
from kseq.backends import load
from kseq.tasks import TASKS, output_key


class Seq2SeqPipeline:
    """Callable: a string or a list of strings -> [{KEY: output}], KEY by task
    (`translation_text`, `summary_text`, `generated_text`).

    Args:
        translator: a backend from `kseq.load`.
        task: the run's task (see `kseq.tasks`).
        batch_size: texts per call to the backend.
    """

    def __init__(self, translator, task="translation", batch_size=32):
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be at least 1. Received: batch_size={batch_size}")
        self.translator = translator
        self.task = task
        self.key = output_key(task)
        self.batch_size = batch_size

    def __call__(self, texts):
        if isinstance(texts, str):
            texts = [texts]
        elif not isinstance(texts, (list, tuple)) or not all(isinstance(t, str) for t in texts):
            raise TypeError(f"A pipeline takes a str or a list of str. Received: {type(texts).__name__}"
                            + (" holding other types" if isinstance(texts, (list, tuple)) else ""))
        results = []
        for start in range(0, len(texts), self.batch_size):
            outputs, _ = self.translator.translate(list(texts[start : start + self.batch_size]))
            results += [{self.key: output} for output in outputs]
        return results


TranslationPipeline = Seq2SeqPipeline  # the name it had when translation was the only task


def pipeline(task, model, backend="keras", variant="float32", batch_size=32, max_length=None, beam_width=1):
    """A pipeline over a run directory (`model=RUN_DIR`) for the task it was trained for."""
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}: choose from {', '.join(TASKS)}.")
    trained = rd.load_config(model)["settings"].get("task", "translation")
    if task != trained:
        raise ValueError(f"{model} was trained for {trained!r}, not {task!r}: "
                         f"use kseq.pipeline({trained!r}, model=...).")
    return Seq2SeqPipeline(load(model, backend, variant, max_length, beam_width=beam_width), task, batch_size)
