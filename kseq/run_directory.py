"""RunDirectory: the one place that knows a run directory's layout.

RUN_DIR/
  config.json          all settings (model, tokenizer, data, training), with its format version
  tokenizer.model      SentencePiece model (joint vocabulary), or
  source.model, target.model   with separate vocabularies
  model.keras          the best epoch by validation BLEU, or loss (weights, no optimizer state)
  metrics.json         test scores (BLEU, chrF, exact match)
  history.csv, logs/   training history and TensorBoard logs
  curves.png           loss and accuracy per epoch, train vs validation
  backup/              the last epoch's weights and optimizer state while training runs
  saved_model/<version>/   the SavedModel for TF Serving (`kseq export RUN_DIR`)
  tflite/              translator_{text,ids,ids_beam}[_float16|_dynamic].tflite, the
                       tokenizer files and metadata.json
  distilled/           with `kseq distill`: the teacher's translations the run learned from

Training, export, the backends, the commands and the benchmarks all go
through `RunDirectory`. It imports neither TensorFlow nor Keras until a
model or a `Tokenizer` layer (`kseq.tf`) is loaded.
"""

import datetime
import json
import os
import zipfile

from kseq.atomic import atomic_file
from kseq.errors import MissingFileError, RunDirectoryError
from kseq.special_ids import END_ID, PAD_ID, START_ID, UNKNOWN_ID
from kseq.vocabulary import Vocabulary

FORMAT_VERSION = 1

# Exported artifacts: the formats, and the TFLite models by kind and weight variant.
EXPORT_FORMATS = ("saved_model", "tflite")
TFLITE_KINDS = ("text", "ids", "ids_beam")
TFLITE_VARIANTS = ("float32", "float16", "dynamic")  # dynamic: dynamic-range int8
TFLITE_METADATA = "metadata.json"
SPECIAL_IDS = (PAD_ID, UNKNOWN_ID, START_ID, END_ID)
SPECIAL_ID_NAMES = ("pad", "unknown", "start", "end")


def tflite_file_name(kind, variant="float32"):
    """translator_{kind}[_{variant}].tflite: float32 files carry no suffix."""
    suffix = "" if variant == "float32" else f"_{variant}"
    return f"translator_{kind}{suffix}.tflite"


def tokenizer_files(joint_vocabulary):
    """File names of the source and target SentencePiece models."""
    if joint_vocabulary:
        return {"source": "tokenizer.model", "target": "tokenizer.model"}
    return {"source": "source.model", "target": "target.model"}


class RunDirectory:
    """A run directory: paths, config, vocabularies, model and exports.

    Args:
        path: the directory (str or path-like).

    Example:
    >>> run = RunDirectory("runs/spa-eng")
    >>> run.training_config.preset, run.saved_model_versions()
    """

    CLAIM = ".kseq-run"  # made exclusively by the run that owns the directory
    TRAINED = ".trained"  # fit() has ended: a resumed run goes on to the evaluation

    def __init__(self, path):
        self.path = os.fspath(path)
        self._config = None

    def __repr__(self):
        return f"RunDirectory({self.path!r})"

    def file(self, *names):
        return os.path.join(self.path, *names)

    # --- Layout ---

    config_path = property(lambda self: self.file("config.json"))
    model_path = property(lambda self: self.file("model.keras"))
    metrics_path = property(lambda self: self.file("metrics.json"))
    history_path = property(lambda self: self.file("history.csv"))
    curves_path = property(lambda self: self.file("curves.png"))
    logs_dir = property(lambda self: self.file("logs"))
    backup_dir = property(lambda self: self.file("backup"))
    saved_model_dir = property(lambda self: self.file("saved_model"))
    tflite_dir = property(lambda self: self.file("tflite"))
    distilled_dir = property(lambda self: self.file("distilled"))

    # --- Creating and claiming ---

    @classmethod
    def create(cls, out=None, resume=False):
        """The run directory for a new run (claimed exclusively) or, with `resume`, an interrupted one.

        Refuses to overwrite a finished or foreign directory.
        """
        run = cls(out or os.path.join("runs", datetime.datetime.now().strftime("%Y%m%d-%H%M%S")))
        if resume:
            if not os.path.isfile(run.config_path):
                raise RunDirectoryError(f"--resume: {run.path} holds no run to resume (no config.json).")
            if os.path.isfile(run.metrics_path):
                raise RunDirectoryError(f"--resume: the run in {run.path} has finished (metrics.json is there).")
            return run
        if os.path.isdir(run.path) and os.listdir(run.path):
            raise RunDirectoryError(f"{run.path} already exists and is not empty: pass --resume to continue "
                                    "that run, or choose another --out.")
        try:
            os.makedirs(run.path, exist_ok=True)
            # The claim: created exclusively, so of two runs started at once with
            # the same --out, one gets the directory and the other is refused.
            os.close(os.open(run.file(cls.CLAIM), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            raise RunDirectoryError(f"{run.path} was claimed by another kseq run at the same moment: "
                                    "choose another --out.") from None
        except OSError as error:
            raise RunDirectoryError(f"Cannot write to --out {run.path}: {error.strerror}") from None
        return run

    @property
    def trained(self):
        """Whether fit() ended in this directory (a resumed run then only evaluates)."""
        return os.path.isfile(self.file(self.TRAINED))

    def mark_trained(self):
        with open(self.file(self.TRAINED), "w"):
            pass

    # --- Config ---

    @property
    def config(self):
        """config.json, read once and checked for its format version."""
        if self._config is None:
            if not os.path.isfile(self.config_path):
                raise MissingFileError(f"{self.config_path} not found: is {self.path} a run directory? "
                                       f"`kseq train --out {self.path}` makes one.")
            config = read_json(self.config_path)
            if config.get("format_version") != FORMAT_VERSION:
                raise RunDirectoryError(
                    f"{self.config_path} has format_version={config.get('format_version')}, this kseq reads "
                    f"{FORMAT_VERSION}. Retrain, or use the kseq version that wrote it.")
            for key in ("settings", "model", "tokenizer"):
                if not isinstance(config.get(key), dict):
                    raise RunDirectoryError(f"{self.config_path} has no {key!r} section: the file is damaged.")
            self._config = config
        return self._config

    @property
    def settings(self):
        """config.json's "settings" section, as written: a flat dict."""
        return self.config["settings"]

    @property
    def training_config(self):
        """The settings as a `kseq.training_config.TrainingConfig`, checked (errors name config.json)."""
        from kseq.training_config import TrainingConfig

        return TrainingConfig.from_dict(self.settings, source=self.config_path)

    @property
    def task(self):
        return self.settings.get("task", "translation")

    def write_config(self, config, model, vocabulary_size):
        """Writes config.json: the settings (`config`, a `kseq.training_config.TrainingConfig`, as
        its flat `to_dict()`), the model's config and the tokenizer's files."""
        self._config = {
            "format_version": FORMAT_VERSION,
            "settings": config.to_dict(),
            "model": model.get_config(),
            "tokenizer": {"files": tokenizer_files(config.joint_vocabulary), "vocabulary_size": vocabulary_size,
                          "normalization": "nmt_nfkc"},
        }
        write_json(self.config_path, self._config)

    def write_metrics(self, metrics):
        write_json(self.metrics_path, metrics)

    # --- Vocabularies and model ---

    def save_vocabularies(self, source, target, joint_vocabulary=True):
        """Writes the SentencePiece model files (of `Vocabulary`s or `Tokenizer`s: both have `.proto`)."""
        files = tokenizer_files(joint_vocabulary)
        for side, vocabulary in (("source", source), ("target", target)):
            with atomic_file(self.file(files[side])) as temporary, open(temporary, "wb") as f:
                f.write(vocabulary.proto)

    @property
    def tokenizer_paths(self):
        """{"source": path, "target": path} of the SentencePiece model files."""
        files = self.config["tokenizer"]["files"]
        return {side: self.file(files[side]) for side in ("source", "target")}

    @property
    def tflite_tokenizer_paths(self):
        """{"source": path, "target": path} of the tokenizer files shipped in tflite/ beside the models."""
        return {side: self.file("tflite", os.path.basename(path)) for side, path in self.tokenizer_paths.items()}

    def vocabularies(self, paths=None):
        """(source, target) `kseq.vocabulary.Vocabulary`s, checked against the model: no TensorFlow needed.

        `paths`: {"source": path, "target": path} of other copies (default: `tokenizer_paths`).
        """
        return tuple(Vocabulary(proto) for proto in self._tokenizer_protos(paths))

    def tokenizers(self):
        """(source, target) `Tokenizer` layers, for TensorFlow graphs (the exports)."""
        from kseq.tf.tokenizer import Tokenizer  # needs TensorFlow

        source, target = self._tokenizer_protos()
        return Tokenizer(proto=source, name="source_tokenizer"), Tokenizer(proto=target, name="target_tokenizer")

    def _tokenizer_protos(self, paths=None):
        protos = []
        for side, path in (paths or self.tokenizer_paths).items():
            if not os.path.isfile(path):
                raise MissingFileError(f"{path} not found: the run directory lost its tokenizer.")
            with open(path, "rb") as f:
                protos.append(f.read())
            try:
                vocabulary = Vocabulary(protos[-1])
            except ValueError as error:
                raise RunDirectoryError(f"{path}: {error}") from None
            self._check_vocabulary(side, path, vocabulary)
        return protos

    def _check_vocabulary(self, side, path, vocabulary):
        """Refuses a vocabulary file that is not the model's: other special ids, or another size."""
        advice = "it is not the vocabulary the model was trained with: restore this run's own file, or retrain."
        if vocabulary.special_ids != SPECIAL_IDS:
            ids = ", ".join(f"{name} {i}" for name, i in zip(SPECIAL_ID_NAMES, vocabulary.special_ids))
            expected = ", ".join(f"{name} {i}" for name, i in zip(SPECIAL_ID_NAMES, SPECIAL_IDS))
            raise RunDirectoryError(f"{path} reserves the ids {ids}, but the model in {self.model_path} reads "
                                    f"{expected}: {advice}")
        model = self.config["model"]
        separate = side == "source" and model.get("source_vocabulary_size")
        key = "source_vocabulary_size" if separate else "vocabulary_size"
        if vocabulary.size != model[key]:
            raise RunDirectoryError(
                f"{path} has {vocabulary.size} pieces, but the model in {self.model_path} has {model[key]} "
                f"{side} ids ({key} in {self.config_path}): {advice}")

    def save_model(self, model):
        """Writes model.keras: the architecture and the weights, not the optimizer's state.

        Keras' `model.save()` keeps a compiled model's optimizer slots, two thirds of the
        file with Adam, that no reader needs (`--resume` restores them from backup/), so
        an uncompiled copy is saved. Written beside the file and renamed over it: a
        kill or a full disk during the write leaves the previous model.
        """
        bare = type(model).from_config(model.get_config())
        if not bare.built:
            bare.build_from_config(model.get_build_config())
        bare.set_weights(model.get_weights())
        with atomic_file(self.model_path) as temporary:
            bare.save(temporary)

    def load_model(self):
        """Loads model.keras in Keras' safe mode (no arbitrary code)."""
        import keras

        from kseq.model import Seq2SeqTransformer

        self.config  # noqa: B018  fails first, naming config.json, if this is no run directory
        if not os.path.isfile(self.model_path):
            raise MissingFileError(f"{self.model_path} not found: training did not finish an epoch.")
        try:
            return keras.saving.load_model(self.model_path, compile=False, safe_mode=True,
                                           custom_objects={"Seq2SeqTransformer": Seq2SeqTransformer})
        except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as error:
            raise RunDirectoryError(
                f"{self.model_path} is damaged or not a kseq model ({type(error).__name__}: {error}). "
                "Retrain, or restore the file from a backup.") from None

    # --- Exports ---

    def saved_model_versions(self):
        """The SavedModel versions in saved_model/, ascending."""
        if not os.path.isdir(self.saved_model_dir):
            return []
        return sorted(int(name) for name in os.listdir(self.saved_model_dir) if name.isdigit())

    def next_saved_model_path(self):
        """saved_model/<1 + the highest version>: TF Serving serves the highest."""
        return self.file("saved_model", str(max(self.saved_model_versions(), default=0) + 1))

    def latest_saved_model_path(self):
        versions = self.saved_model_versions()
        if not versions:
            raise MissingFileError(f"{self.saved_model_dir} holds no SavedModel: run "
                                   f"`kseq export {self.path} --formats saved_model` first.")
        return self.file("saved_model", str(versions[-1]))

    def tflite_path(self, kind, variant="float32", check=True):
        """tflite/translator_{kind}[_{variant}].tflite, checked to exist unless `check` is False."""
        path = self.file("tflite", tflite_file_name(kind, variant))
        if check and not os.path.isfile(path):
            flags = "" if variant == "float32" else f" --quantize {variant}"
            flags += " --tflite-beam" if kind == "ids_beam" else ""
            raise MissingFileError(f"{path} not found: run `kseq export {self.path} --formats tflite{flags} "
                                   "--overwrite`.")
        return path

    def exported_backends(self):
        """(backend, variant) pairs this directory has files for, `keras` first."""
        pairs = [("keras", "float32")]
        if self.saved_model_versions():
            pairs.append(("saved_model", "float32"))
        for backend, kind in (("tflite", "text"), ("tflite_ids", "ids")):
            pairs += [(backend, variant) for variant in TFLITE_VARIANTS
                      if os.path.isfile(self.tflite_path(kind, variant, check=False))]
        return pairs

    # --- The model's shape ---

    @property
    def model_config(self):
        """The model's Keras config (`Seq2SeqTransformer.get_config()`: its sizes), as config.json keeps it."""
        return self.config["model"]


def write_json(path, value):
    """Writes JSON atomically: a reader sees the old file or the new one."""
    with atomic_file(path) as temporary, open(temporary, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")


def read_json(path):
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise RunDirectoryError(f"{path} is not valid JSON ({error}): the file is damaged.") from None
