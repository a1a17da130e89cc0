"""TrainingConfig: every setting of a training run, typed, checked and saved in config.json.

The presets (`kseq.presets`) give the model and training fields their
defaults; the device adds its own (`with_device_defaults`); the flags of
`kseq train` override both. `to_dict()` is the flat "settings" section of a
run directory's config.json, and `from_dict()` reads it back, runs written by
older versions included.

Imports neither TensorFlow nor Keras.

Example:
>>> config = TrainingConfig.from_preset("tiny", epochs=3, data="pairs.tsv")
>>> config = config.with_device_defaults("cpu", "tensorflow")
>>> train(config, RunDirectory.create("runs/tiny"))
"""

import dataclasses
import os
import types
import typing

from kseq import device
from kseq.errors import RunDirectoryError, UsageError
from kseq.presets import PRESETS
from kseq.tasks import TASKS

# The model's own options: `Seq2SeqTransformer`'s arguments, and what `--init` takes from a model.
MODEL_FIELDS = (
    "num_encoder_layers", "num_decoder_layers", "hidden_dim", "num_heads",
    "intermediate_dim", "dropout", "attention_dropout", "max_source_length", "max_target_length",
)
# The epochs of a run bounded by its time budget alone.
UNBOUNDED_EPOCHS = 10_000
# Positions per batch at least, on a GPU or TPU: a CPU-sized batch leaves most of the card idle.
ACCELERATOR_TOKENS_PER_BATCH = 16384
# Fine-tuning (`--init`) defaults: a pretrained model wants small steps from the start.
FINE_TUNING = dict(learning_rate=5e-5, warmup_steps=100)
# What runs written before these settings existed trained with (runs saved by an older
# `bench/quality_race.py --save` lack the last three).
OLDER_RUN_DEFAULTS = dict(subword_alpha=0.0, bleu_subset=0, patience=0, overlong="truncate", skip_bad_lines=False,
                          eval_batch_size=64)
# Settings every saved run holds (the preset's fields besides).
SAVED_RUN_FIELDS = ("data", "seed", "joint_vocabulary")
# Optional settings that config.json holds only when they are set.
WRITTEN_WHEN_SET = ("init", "source_language", "target_language", "ema_momentum", "teacher",
                    "teacher_beam_width", "with_references", "imported_from")
MIXED_PRECISION_POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")
# The flags whose names are not the field's.
FLAGS = {"time_budget_minutes": "--time-budget", "joint_vocabulary": "--separate-vocabularies"}


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Every setting of a training run.

    The model and training fields (the presets' keys) have no defaults of
    their own: `from_preset` fills them. Checked on construction: a value
    that cannot train raises `kseq.errors.UsageError` naming its flag.
    """

    # The model (`model_options()`) and its vocabulary.
    vocabulary_size: int
    num_encoder_layers: int
    num_decoder_layers: int
    hidden_dim: int
    num_heads: int
    intermediate_dim: int
    dropout: float
    attention_dropout: float
    max_source_length: int
    max_target_length: int
    # The training recipe.
    epochs: int
    tokens_per_batch: int
    learning_rate: float
    warmup_steps: int
    label_smoothing: float
    weight_decay: float
    jit_compile: bool
    subword_alpha: float
    bleu_subset: int
    patience: int
    # The run: its data, task and machine.
    task: str = "translation"
    preset: str | None = None
    data: str | list[str] | None = None  # None: the built-in corpus
    seed: int = 0
    overlong: str = "truncate"
    skip_bad_lines: bool = False
    joint_vocabulary: bool = True
    eval_batch_size: int = 64
    time_budget_minutes: float | None = None
    distribute: str = "none"
    backend: str | None = None  # the Keras backend, as recorded
    device: str = "cpu"  # "cpu", "gpu" or "tpu"
    mixed_precision: str | None = None  # None: float32
    # Set by some runs only (`WRITTEN_WHEN_SET`).
    init: str | None = None  # the run directory fine-tuned from
    source_language: str | None = None
    target_language: str | None = None
    ema_momentum: float | None = None  # averages the weights when set
    teacher: str | None = None  # `kseq distill`'s teacher run directory
    teacher_beam_width: int | None = None
    with_references: bool | None = None
    imported_from: str | None = None  # `kseq import`'s checkpoint

    def __post_init__(self):
        self.validate()

    # --- Building ---

    @classmethod
    def from_preset(cls, name, **overrides):
        """The preset `name` ("tiny", "small" or "base") with `overrides` (field=value), which win.

        A time budget without `epochs` trains until the time is spent (`UNBOUNDED_EPOCHS`).
        """
        if name not in PRESETS:
            raise UsageError(f"--preset must be one of {', '.join(sorted(PRESETS))}. Received: {name!r}")
        values = dict(PRESETS[name], preset=name)
        if overrides.get("time_budget_minutes") is not None and "epochs" not in overrides:
            values["epochs"] = UNBOUNDED_EPOCHS
        return cls(**{**values, **overrides})

    def replace(self, **changes):
        """A copy with `changes` (field=value), checked."""
        return dataclasses.replace(self, **changes)

    def with_device_defaults(self, kind, backend, mixed_precision="auto"):
        """This config for the device `kind` ("cpu", "gpu" or "tpu") under the Keras `backend`.

        On a GPU or TPU the batch grows to `ACCELERATOR_TOKENS_PER_BATCH`
        positions at least; on JAX the step is compiled (`jit_compile`), since
        without it JAX runs op by op, many times slower. `mixed_precision`
        ("auto", "float32", "mixed_float16" or "mixed_bfloat16") is resolved
        by `default_mixed_precision` when "auto". Apply flags after this: they win.
        """
        policy = default_mixed_precision(kind, backend) if mixed_precision == "auto" else mixed_precision
        if policy not in MIXED_PRECISION_POLICIES:
            raise UsageError(f"--mixed-precision must be auto or one of {', '.join(MIXED_PRECISION_POLICIES)}. "
                             f"Received: {mixed_precision!r}")
        accelerated = kind in ("gpu", "tpu")
        return self.replace(
            tokens_per_batch=max(self.tokens_per_batch, ACCELERATOR_TOKENS_PER_BATCH) if accelerated
            else self.tokens_per_batch,
            jit_compile=self.jit_compile or backend == "jax",
            backend=backend, device=kind, mixed_precision=None if policy == "float32" else policy)

    def fine_tuned_from(self, init_dir, given=()):
        """This config fine-tuning the model of the run directory `init_dir` (`--init`).

        The model's architecture, lengths and vocabularies are kept (they
        replace this config's), and its languages; the learning rate and warmup
        become `FINE_TUNING`'s unless `given` (the names of the fields set by
        flags) holds them.
        """
        from kseq.run_directory import RunDirectory

        init = RunDirectory(init_dir)
        # Read leniently: any run whose model loads can be fine-tuned, whatever else its settings hold.
        model, settings = init.model_config, init.settings
        values = {key: model[key] for key in MODEL_FIELDS if key in model}
        values.update(init=os.path.abspath(init.path), vocabulary_size=model["vocabulary_size"],
                      joint_vocabulary=settings.get("joint_vocabulary", True))
        values.update({key: settings[key] for key in ("source_language", "target_language") if settings.get(key)})
        values.update({key: value for key, value in FINE_TUNING.items() if key not in given})
        return self.replace(**values)

    # --- Reading ---

    def model_options(self):
        """The `Seq2SeqTransformer` arguments this config sets (the vocabulary sizes aside)."""
        return {key: getattr(self, key) for key in MODEL_FIELDS}

    # --- Checking ---

    def validate(self):
        """Raises `UsageError`, naming the flag, for a value that cannot train."""
        at_least = {"vocabulary_size": 8, "num_encoder_layers": 1, "num_decoder_layers": 1, "hidden_dim": 1,
                    "num_heads": 1, "intermediate_dim": 1, "max_source_length": 2, "max_target_length": 2,
                    "epochs": 1, "tokens_per_batch": 1, "warmup_steps": 0, "bleu_subset": 0, "patience": 0,
                    "eval_batch_size": 1, "learning_rate": 0, "weight_decay": 0, "subword_alpha": 0}
        for name, least in at_least.items():
            value = getattr(self, name)
            if not value >= least:
                raise UsageError(f"{flag(name)} must be at least {least}. Received: {value}")
        for name in ("dropout", "attention_dropout", "label_smoothing"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise UsageError(f"{flag(name)} must be in [0, 1). Received: {value}")
        if self.hidden_dim % self.num_heads:
            raise UsageError(f"--num-heads must divide --hidden-dim. Received: --num-heads {self.num_heads}, "
                             f"--hidden-dim {self.hidden_dim}")
        if self.time_budget_minutes is not None and not self.time_budget_minutes > 0:
            raise UsageError(f"--time-budget must be a positive number of minutes. Received: {self.time_budget_minutes}")
        if self.task not in TASKS:
            raise UsageError(f"--task must be one of {', '.join(TASKS)}. Received: {self.task!r}")
        if self.overlong not in ("truncate", "drop"):
            raise UsageError(f"--overlong must be truncate or drop. Received: {self.overlong!r}")
        if self.mixed_precision is not None and self.mixed_precision not in MIXED_PRECISION_POLICIES:
            raise UsageError(f"--mixed-precision must be one of {', '.join(MIXED_PRECISION_POLICIES)}. "
                             f"Received: {self.mixed_precision!r}")
        if self.ema_momentum is not None and not 0 < self.ema_momentum < 1:
            raise UsageError(f"`ema_momentum` must be in (0, 1). Received: ema_momentum={self.ema_momentum}")

    # --- config.json ---

    def to_dict(self):
        """The flat, JSON-ready "settings" section of config.json (the optional settings only when set)."""
        values = dataclasses.asdict(self)
        return {key: value for key, value in values.items() if not (key in WRITTEN_WHEN_SET and value is None)}

    @classmethod
    def from_dict(cls, settings, source="config.json"):
        """The config `to_dict()` wrote, or a run of an older version wrote (`OLDER_RUN_DEFAULTS`).

        Raises `kseq.errors.RunDirectoryError` naming `source` (the file) for a
        missing, unknown or mistyped setting.
        """
        if not isinstance(settings, dict):
            raise RunDirectoryError(f"{source}: the settings are not a JSON object: the file is damaged.")
        values = {**OLDER_RUN_DEFAULTS, **settings}
        fields = {field.name: field for field in dataclasses.fields(cls)}
        unknown = [key for key in values if key not in fields]
        if unknown:
            raise RunDirectoryError(f"{source} holds settings this kseq does not know: {', '.join(unknown)}. It "
                                    "was damaged, or written by another tool or a newer kseq.")
        missing = [name for name, field in fields.items() if name not in values
                   and (field.default is dataclasses.MISSING or name in SAVED_RUN_FIELDS)]
        if missing:
            raise RunDirectoryError(f"{source} lacks the settings {', '.join(missing)}: it was damaged "
                                    "or written by another tool.")
        for key, value in values.items():
            expected = fields[key].type
            if not has_type(value, expected):
                raise RunDirectoryError(f"{source}: the setting {key} must be {type_name(expected)}. "
                                        f"Received: {value!r}. The file was damaged or written by another tool.")
            if expected is float and isinstance(value, int):
                values[key] = float(value)
        try:
            return cls(**values)
        except UsageError as error:
            raise RunDirectoryError(f"{source} holds settings that cannot train: {error}") from None


def flag(name):
    """The `kseq train` flag that sets the field `name`."""
    return FLAGS.get(name, "--" + name.replace("_", "-"))


PRESET_FIELDS = tuple(PRESETS["small"])
FIELD_TYPES = {field.name: field.type for field in dataclasses.fields(TrainingConfig)}


def has_type(value, expected):
    """Whether `value` (read from JSON) is of the annotation `expected`; an int passes as a float."""
    if isinstance(expected, types.UnionType):
        return any(has_type(value, option) for option in typing.get_args(expected))
    if expected is type(None):
        return value is None
    if typing.get_origin(expected) is list:
        (item,) = typing.get_args(expected)
        return isinstance(value, list) and all(has_type(v, item) for v in value)
    if isinstance(value, bool):
        return expected is bool
    if expected is float:
        return isinstance(value, (int, float))
    return isinstance(value, expected)


def type_name(expected):
    if isinstance(expected, types.UnionType):
        return " or ".join(type_name(option) for option in typing.get_args(expected))
    if typing.get_origin(expected) is list:
        return f"a list of {type_name(typing.get_args(expected)[0])}"
    return "null" if expected is type(None) else expected.__name__


def default_mixed_precision(kind, backend):
    """bfloat16 compute (same range as float32: no loss scaling) on a GPU or TPU, and on TensorFlow
    on a CPU with bfloat16 dot products (faster there: see BENCHMARKS.md); else float32."""
    if kind in ("gpu", "tpu") or (backend == "tensorflow" and device.cpu_computes_bfloat16()):
        return "mixed_bfloat16"
    return "float32"
