"""`kseq.pipeline(task, model=RUN_DIR)`, in Hugging Face's pipeline convention."""

from kseq.backends import load
from kseq.batch_translation import translate_batches
from kseq.errors import UsageError
from kseq.run_directory import RunDirectory
from kseq.tasks import TASKS, output_key


class Seq2SeqPipeline:
    """Callable: a string or a list of strings -> [{KEY: output}], KEY by task
    (`translation_text`, `summary_text`, `generated_text`).

    Args:
        translator: a translator from `kseq.load`.
        task: the run's task (see `kseq.tasks`).
        batch_size: texts per call to the translator.
    """

    def __init__(self, translator, task="translation", batch_size=32):
        if batch_size < 1:
            raise UsageError(f"`batch_size` must be at least 1. Received: batch_size={batch_size}")
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
        outputs, _ = translate_batches(self.translator, texts, self.batch_size)
        return [{self.key: output} for output in outputs]


TranslationPipeline = Seq2SeqPipeline  # the name it had when translation was the only task


def pipeline(task, model, backend="keras", variant="float32", batch_size=32, max_length=None, beam_width=1):
    """A pipeline over a run directory (`model=RUN_DIR`) for the task it was trained for."""
    if task not in TASKS:
        raise UsageError(f"Unknown task {task!r}: choose from {', '.join(TASKS)}.")
    trained = RunDirectory(model).task
    if task != trained:
        raise UsageError(f"{model} was trained for {trained!r}, not {task!r}: "
                         f"use kseq.pipeline({trained!r}, model=...).")
    return Seq2SeqPipeline(load(model, backend, variant, max_length, beam_width=beam_width), task, batch_size)
