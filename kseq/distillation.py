"""`kseq distill --teacher RUN_DIR --data DIR`: sequence-level knowledge distillation (Kim and Rush, 2016).

A big teacher (trained on a GPU, decoding with beam search) translates the
training sources; a small student learns to write what the teacher wrote.
The student, decoding greedily on a phone, gets close to the teacher's beam.
The student's run directory is a normal one: it evaluates on the real
references and exports like any other. Its `distilled/` folder holds the
corpus it trained on.
"""

import os

from kseq.backends import load
from kseq.batch_translation import translate_batches
from kseq.data import load_corpus
from kseq.run_directory import RunDirectory


def distill_pairs(teacher, pairs, batch_size=64, progress=True):
    """The pairs with each target replaced by the teacher's translation of the source."""
    sources = [source for source, _ in pairs]
    return list(zip(sources, translate_batches(teacher, sources, batch_size, progress=progress)[0]))


def write_tsv(path, pairs):
    with open(path, "w", encoding="utf-8") as f:
        for source, target in pairs:
            # A tab or a line break inside a side would break the file: spaces instead.
            f.write(f"{' '.join(source.split())}\t{' '.join(target.split())}\n")


def distill_corpus(teacher_dir, data, student, beam_width=4, with_references=False, batch_size=64,
                   skip_bad_lines=False, max_length=None):
    """Writes the student's `RunDirectory` distilled/{train,valid,test}.tsv: the teacher's
    training targets (plus the original pairs with `with_references`), the real valid and
    test pairs. Returns the directory.

    `max_length` caps the tokens the teacher writes: the student's
    `max_target_length`, past which its training would cut the targets anyway.
    A beam runs until every hypothesis of the batch has ended, so the cap also
    bounds the slowest batch.
    """
    corpus = load_corpus(data, skip_bad_lines=skip_bad_lines)
    teacher_max_length = RunDirectory(teacher_dir).model_config["max_target_length"]
    teacher = load(teacher_dir, "keras", beam_width=beam_width, batch_size=batch_size,
                   max_length=min(max_length or teacher_max_length, teacher_max_length))
    print(f"Distilling: the teacher ({teacher_dir}, beam {beam_width}) translates "
          f"{len(corpus.train)} training sources...", flush=True)
    train = distill_pairs(teacher, corpus.train, batch_size)  # a long job: progress even into a log
    train = [(s, t) for s, t in train if t.strip()]  # an empty translation teaches nothing
    if with_references:
        train += corpus.train
    directory = student.distilled_dir
    os.makedirs(directory, exist_ok=True)
    for split, pairs in (("train", train), ("valid", corpus.valid), ("test", corpus.test)):
        write_tsv(os.path.join(directory, f"{split}.tsv"), pairs)
    return directory
