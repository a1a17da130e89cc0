"""kseq train [--data PATH] [--preset small] [--out RUN_DIR]: data -> tokenizer -> model -> fit -> evaluate -> export.

The job itself is `kseq.training.train`; this command turns the flags into a
`kseq.training_config.TrainingConfig`, claims the run directory, and exports
the trained model (where TensorFlow is installed; elsewhere it prints the
command that exports).
"""

import argparse
import shutil
import sys
import tempfile
import time

from kseq import device
from kseq.distribution import STRATEGIES
from kseq.errors import UsageError
from kseq.presets import PRESETS
from kseq.tasks import TASKS
from kseq.training_config import FINE_TUNING, FIELD_TYPES, MODEL_FIELDS, PRESET_FIELDS, TrainingConfig, flag

HELP = "Train, evaluate and export a translator."
# The flags that go with --resume: where the run is and what to do at the end, not how to train.
RESUME_FLAGS = ("--resume", "--out", "--no-export", "--compilation-cache", "--no-compilation-cache")


def add_arguments(parser):
    parser.add_argument(
        "--data", nargs="+", metavar="PATH",
        help="A TSV file (source<TAB>target), a directory with train.tsv [valid.tsv test.tsv], "
        "two line-aligned text files (source, target), or the name of a public corpus "
        "(spa-eng: see `kseq data`). Default: the built-in English-Spanish numbers, dates and times corpus.")
    parser.add_argument("--out", help="Run directory (default: runs/<date-time>).")
    parser.add_argument(
        "--init", metavar="RUN_DIR",
        help="Fine-tune the model of this run directory (`kseq import` or `kseq train` made it): its "
        "architecture and vocabularies are kept, and the learning rate (default "
        f"{FINE_TUNING['learning_rate']:g}) and warmup ({FINE_TUNING['warmup_steps']} steps) are lower.")
    parser.add_argument("--task", choices=sorted(TASKS), default="translation",
                        help="What the pairs teach; recorded so that pipelines and the server "
                        "name their outputs for it (default: translation).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resume", action="store_true",
                        help="Continue the interrupted run in --out from its last epoch.")
    parser.add_argument("--no-export", action="store_true", help="Skip the export step.")
    parser.add_argument("--skip-bad-lines", action="store_true",
                        help="Skip and count malformed data lines instead of stopping.")
    parser.add_argument("--overlong", choices=("truncate", "drop"), default="truncate",
                        help="What to do with pairs longer than the maximum lengths.")
    parser.add_argument("--separate-vocabularies", action="store_true",
                        help="One SentencePiece vocabulary per side instead of a joint one.")
    parser.add_argument("--eval-batch-size", type=int, default=64)
    parser.add_argument(
        "--distribute", choices=STRATEGIES, default="none",
        help="mirrored: train on every local GPU (or logical CPU device) at once; "
        "--tokens-per-batch is then the global batch, split across them. multi_worker: "
        "the same over the machines TF_CONFIG lists. data_parallel: every local device, on JAX.")
    parser.add_argument(
        "--mixed-precision", choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"), default="auto",
        help="Compute in 16 bits, keep the weights, logits and loss in float32 "
        "(mixed_float16 with loss scaling; mixed_bfloat16 for GPUs, TPUs and recent CPUs). "
        "auto: mixed_bfloat16 on a GPU or TPU, and on TensorFlow on a CPU with bfloat16 "
        "dot products (AVX512-BF16, AMX); float32 elsewhere.")
    parser.add_argument(
        "--compilation-cache", default=device.default_compilation_cache_dir(), metavar="DIR",
        help="JAX keeps compiled train and test steps here, so the next run of the same shapes "
        "compiles nothing (default: %(default)s).")
    parser.add_argument("--no-compilation-cache", dest="compilation_cache", action="store_const",
                        const=None, help="Compile every step anew.")
    parser.add_argument(
        "--time-budget", type=float, metavar="MINUTES",
        help="Train for this many minutes, the learning rate decaying over them; "
        "--epochs stays an upper bound (default then: none).")
    add_preset_arguments(parser)


def add_preset_arguments(parser):
    """Adds `--preset` and one override flag per preset field (`--hidden-dim 128`, `--no-jit-compile`)."""
    parser.add_argument("--preset", choices=sorted(PRESETS), default="small")
    overrides = parser.add_argument_group("overrides of the preset")
    for name in PRESET_FIELDS:
        if FIELD_TYPES[name] is bool:
            overrides.add_argument(flag(name), action=argparse.BooleanOptionalAction)
        else:
            overrides.add_argument(flag(name), type=FIELD_TYPES[name], metavar="N")


def check_arguments(args):
    """Refuses flag combinations that cannot work, naming the flag."""
    if args.resume:
        # A resumed run keeps the settings it was started with: a flag that
        # would change them is refused, not silently ignored.
        given = [a.split("=")[0] for a in args.argv if a.startswith("--")]
        changes = [option for option in given if option not in RESUME_FLAGS]
        if changes:
            raise UsageError(f"--resume continues the run in --out with its saved settings (config.json); "
                             f"{changes[0]} would change them: drop it, or start a new run with another --out.")
    if args.distribute == "multi_worker" and (args.time_budget is not None or args.resume):
        raise UsageError("--distribute multi_worker takes neither --time-budget nor --resume: "
                         "every worker must run the same steps (train for --epochs).")
    if args.init and args.resume:
        raise UsageError("--init starts a new run from a model; --resume continues one: pass one of them.")
    if args.init:
        # The model's own fields come from the model --init names: a flag would be ignored.
        kept = [name for name in ("vocabulary_size", *MODEL_FIELDS) if getattr(args, name) is not None]
        if kept:
            raise UsageError(f"--init keeps the model's architecture: drop {flag(kept[0])}.")


def config_from_args(args):
    """The `TrainingConfig` the flags ask for: the preset, the device's defaults, then the flags,
    which win; with `--init`, fine-tuning the model it names. The public corpus `--data` names
    (spa-eng) is downloaded, and the config reads its directory."""
    import keras

    from kseq.public_corpora import resolve_data

    overrides = {name: getattr(args, name) for name in PRESET_FIELDS if getattr(args, name) is not None}
    config = TrainingConfig.from_preset(
        args.preset, task=args.task, data=args.data, seed=args.seed, overlong=args.overlong,
        skip_bad_lines=args.skip_bad_lines, joint_vocabulary=not args.separate_vocabularies,
        eval_batch_size=args.eval_batch_size, time_budget_minutes=args.time_budget, distribute=args.distribute)
    config = config.with_device_defaults(device.accelerator(), keras.backend.backend(), args.mixed_precision)
    config = config.replace(**overrides)
    if args.init:
        config = config.fine_tuned_from(args.init, given=overrides)
    return config.replace(data=resolve_data(config.data))  # once every flag is checked


def run(args):
    from kseq import distribution
    from kseq.run_directory import RunDirectory
    from kseq.training import train

    check_arguments(args)
    if args.compilation_cache:
        device.enable_compilation_cache(args.compilation_cache)
    # Checked, and `--data spa-eng` downloaded, before a run directory is claimed.
    config = None if args.resume else config_from_args(args)
    started = time.time()
    # Only the chief writes the run directory; other workers write theirs to a scratch one.
    chief = distribution.is_chief()
    run_dir = (RunDirectory.create(args.out, args.resume) if chief
               else RunDirectory(tempfile.mkdtemp(prefix="kseq-worker-")))
    try:
        config = config or run_dir.training_config
        print(f"Settings: {config.to_dict()}", flush=True)
        metrics = train(config, run_dir, resume=args.resume)
    finally:
        if not chief:
            shutil.rmtree(run_dir.path, ignore_errors=True)
    if metrics is None:  # a worker other than the chief
        return
    if not args.no_export:
        from kseq.commands.export import export_or_explain

        export_or_explain(run_dir)
    print(f"Run directory: {run_dir.path} ({time.time() - started:.0f} s in all)", file=sys.stdout)
