"""Sequence-to-sequence tasks by their usual names, and the key each one's outputs go under.

The model is the same for every task; the name travels in the run directory
(`train.py --task`) so that pipelines, the server and its page speak of
translations, summaries or generated text, as Hugging Face's pipelines do.
"""

from kseq.errors import UsageError

TASKS = {
    "translation": "translation_text",
    "summarization": "summary_text",
    "text2text-generation": "generated_text",
}


def output_key(task):
    """The pipeline output key of `task` ("translation" -> "translation_text")."""
    if task not in TASKS:
        raise UsageError(f"Unknown task {task!r}: choose from {', '.join(TASKS)}.")
    return TASKS[task]
