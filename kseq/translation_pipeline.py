"""`kseq.pipeline("translation", model=RUN_DIR)`, in the familiar convention."""

from kseq.backends import load


class TranslationPipeline:
    """Callable: a string or a list of strings -> [{"translation_text": ...}].

    Args:
        translator: a backend from `kseq.load`.
        batch_size: sentences per call to the backend.
    """

    def __init__(self, translator, batch_size=32):
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be at least 1. Received: batch_size={batch_size}")
        self.translator = translator
        self.batch_size = batch_size

    def __call__(self, texts):
        texts = [texts] if isinstance(texts, str) else list(texts)
        results = []
        for start in range(0, len(texts), self.batch_size):
            translations, _ = self.translator.translate(texts[start : start + self.batch_size])
            results += [{"translation_text": t} for t in translations]
        return results


def pipeline(task, model, backend="keras", variant="float32", batch_size=32, max_length=None):
    """Builds a translation pipeline over a run directory (`model=RUN_DIR`)."""
    if task != "translation":
        raise ValueError(f"Only the 'translation' task is supported. Received: task={task!r}")
    return TranslationPipeline(load(model, backend, variant, max_length), batch_size)
