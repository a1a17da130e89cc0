"""kseq distill --teacher RUN_DIR --data DIR [kseq train's flags]: sequence-level knowledge distillation.

The teacher (a run directory, decoding with beam search) translates the
training sources; a student learns to write what the teacher wrote (Kim and
Rush, 2016). The student's run directory is a normal one: it evaluates on
the real references and exports like any other; its distilled/ folder holds
the corpus it trained on.
"""

import os

from kseq.commands import train
from kseq.decoding_strategy import decoding_strategy
from kseq.errors import UsageError

HELP = "Train a student on a teacher's translations."


def add_arguments(parser):
    parser.add_argument("--teacher", required=True, metavar="RUN_DIR", help="The teacher's run directory.")
    parser.add_argument("--beam-width", type=int, default=4, help="The teacher's beam (default: 4).")
    parser.add_argument("--with-references", action="store_true",
                        help="Train on the original pairs as well as on the teacher's translations.")
    train.add_arguments(parser.add_argument_group("the student's training (as `kseq train`)"))


def run(args):
    from kseq.commands.export import export_or_explain
    from kseq.distillation import distill_corpus
    from kseq.run_directory import RunDirectory
    from kseq.training import train as train_student

    if not args.data:
        raise UsageError("--data is required: the corpus whose training sources the teacher translates.")
    decoding_strategy(args.beam_width)  # checks --beam-width before the student's directory is claimed
    if args.resume:
        raise UsageError("--resume: resume the student's run with `kseq train --resume --out RUN_DIR`.")
    train.check_arguments(args)
    # What distill_corpus reads of the teacher, read before the student's directory is claimed:
    # fails, naming the file, if the teacher is not a run.
    RunDirectory(args.teacher).model_config["max_target_length"]
    config = train.config_from_args(args)  # downloads a public corpus --data names
    student = RunDirectory.create(args.out)
    data = distill_corpus(args.teacher, config.data, student, args.beam_width, args.with_references,
                          batch_size=config.eval_batch_size, skip_bad_lines=config.skip_bad_lines,
                          max_length=config.max_target_length)
    config = config.replace(data=data, teacher=os.path.abspath(args.teacher), teacher_beam_width=args.beam_width,
                            with_references=args.with_references)
    train_student(config, student)
    if not args.no_export:
        export_or_explain(student)
