"""The `kseq` command tree, the top layer of the house.

    kseq train | import | distill | export | serve | translate | evaluate | parity | attention | data

It alone imports both the library (`kseq`) and `export/`; `train.py` and
`python -m export` are thin wrappers over it. Each command is a module here
with `HELP`, `add_arguments(parser)` and `run(args)`. Defining the commands
imports neither TensorFlow, Keras nor Matplotlib, so `kseq --help` answers at
once: the modules that load them are imported inside `run`.
The library raises `kseq.errors.KseqError`s; `main` alone turns them into
one line on stderr and an exit code.
"""

import argparse
import importlib
import os
import sys

from kseq.console import quiet_tensorflow
from kseq.errors import KseqError

COMMANDS = ("train", "import", "distill", "export", "serve", "translate", "evaluate", "parity", "attention", "data")
NEED_TENSORFLOW = ("export", "parity")  # on any Keras backend
MODULES = {"import": "import_model"}  # `import` is a Python keyword


def build_parser():
    parser = argparse.ArgumentParser(prog="kseq", description="Train and ship seq2seq Transformers.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"kseq.commands.{MODULES.get(name, name)}")
        command = commands.add_parser(name, help=module.HELP, description=module.__doc__,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
        command.set_defaults(run=module.run, parser=command)
    return parser


def main(argv=None):
    """Runs one command; a `KseqError` ends it with `kseq COMMAND: error: ...` and its exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args.argv = argv[1:]  # what the command was given, for checks that need the flags as typed
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow" or args.command in NEED_TENSORFLOW:
        quiet_tensorflow()  # before Keras imports it, holding back its start-up logging
    try:
        args.run(args)
    except KseqError as error:
        print(f"{args.parser.prog}: error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print(f"{args.parser.prog}: interrupted.", file=sys.stderr)
        sys.exit(130)
