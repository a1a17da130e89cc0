"""The run directory: everything `train.py` writes, and how to load it back.

RUN_DIR/
  config.json          all settings (model, tokenizer, data, training)
  tokenizer.model      SentencePiece model (joint vocabulary), or
  source.model, target.model   with separate vocabularies
  model.keras          the model with the best validation loss
  metrics.json         test scores (BLEU, chrF, exact match) per backend
  history.csv, logs/   training history and TensorBoard logs
  curves.png           loss and accuracy per epoch, train vs validation
  saved_model/<version>/, tflite/   the exports (`python -m export RUN_DIR`)
"""

import datetime
import json
import os
import zipfile

import keras

from kseq.model import Seq2SeqTransformer
from kseq.vocabulary import Vocabulary

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
CURVES_FILE = "curves.png"
LOGS_DIR = "logs"
BACKUP_DIR = "backup"
SAVED_MODEL_DIR = "saved_model"
TFLITE_DIR = "tflite"
FORMAT_VERSION = 1
CLAIM_FILE = ".kseq-run"  # made exclusively by the run that owns the directory
TRAINED_FILE = ".trained"  # fit() has ended: a resumed run goes on to the evaluation


def prepare(out, resume=False):
    """Creates the run directory, refusing to overwrite a finished or foreign one."""
    out = out or os.path.join("runs", datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    if resume:
        if not os.path.isfile(os.path.join(out, CONFIG_FILE)):
            raise SystemExit(f"--resume: {out} holds no run to resume (no {CONFIG_FILE}).")
        if os.path.isfile(os.path.join(out, METRICS_FILE)):
            raise SystemExit(f"--resume: the run in {out} has finished ({METRICS_FILE} is there).")
        return out
    if os.path.isdir(out) and os.listdir(out):
        raise SystemExit(f"{out} already exists and is not empty: pass --resume to continue "
                         "that run, or choose another --out.")
    try:
        os.makedirs(out, exist_ok=True)
        # The claim: created exclusively, so of two runs started at once with
        # the same --out, one gets the directory and the other is refused.
        os.close(os.open(os.path.join(out, CLAIM_FILE), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        raise SystemExit(f"{out} was claimed by another kseq run at the same moment: choose another --out.") from None
    except OSError as error:
        raise SystemExit(f"Cannot write to --out {out}: {error.strerror}") from None
    return out


def write_json(path, value):
    """Writes JSON atomically: a reader sees the old file or the new one."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, ensure_ascii=False)
        f.write("\n")
    os.replace(temporary, path)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON ({error}): the file is damaged.") from None


def tokenizer_files(joint_vocabulary):
    """File names of the source and target SentencePiece models."""
    if joint_vocabulary:
        return {"source": "tokenizer.model", "target": "tokenizer.model"}
    return {"source": "source.model", "target": "target.model"}


def save_vocabularies(run_dir, source_vocabulary, target_vocabulary, files):
    """Writes the SentencePiece model files (`kseq.vocabulary.Vocabulary` or `Tokenizer`: both have `.proto`)."""
    for side, vocabulary in (("source", source_vocabulary), ("target", target_vocabulary)):
        with open(os.path.join(run_dir, files[side]), "wb") as f:
            f.write(vocabulary.proto)


def load_vocabularies(run_dir, config):
    """Returns (source, target) `kseq.vocabulary.Vocabulary`s: no TensorFlow needed."""
    return tuple(Vocabulary(proto) for proto in _tokenizer_protos(run_dir, config))


def _tokenizer_protos(run_dir, config):
    files = config["tokenizer"]["files"]
    protos = []
    for side in ("source", "target"):
        path = os.path.join(run_dir, files[side])
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} not found: the run directory lost its tokenizer.")
        with open(path, "rb") as f:
            protos.append(f.read())
        try:
            Vocabulary(protos[-1])
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None
    return protos


def write_config(run_dir, settings, model, files, vocabulary_size):
    """Writes config.json: the settings, the model's config and the tokenizer's files."""
    write_json(os.path.join(run_dir, CONFIG_FILE), {
        "format_version": FORMAT_VERSION,
        "settings": settings,
        "model": model.get_config(),
        "tokenizer": {"files": files, "vocabulary_size": vocabulary_size,
                      "normalization": "nmt_nfkc"},
    })


def load_config(run_dir):
    path = os.path.join(run_dir, CONFIG_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} not found: is {run_dir} a run directory? `python train.py --out {run_dir}` makes one."
        )
    config = read_json(path)
    if config.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"{path} has format_version={config.get('format_version')}, this kseq reads "
            f"{FORMAT_VERSION}. Retrain, or use the kseq version that wrote it."
        )
    return config


def load_tokenizers(run_dir, config):
    """Returns (source, target) `Tokenizer` layers, for TensorFlow graphs (the exports)."""
    # Imported here: the layer needs TensorFlow, the rest of this module does not.
    from kseq.tokenizer import Tokenizer

    source, target = _tokenizer_protos(run_dir, config)
    return Tokenizer(proto=source, name="source_tokenizer"), Tokenizer(proto=target, name="target_tokenizer")


def load_model(run_dir):
    """Loads model.keras in Keras' safe mode (no arbitrary code)."""
    path = os.path.join(run_dir, MODEL_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: training did not finish an epoch.")
    try:
        return keras.saving.load_model(
            path, custom_objects={"Seq2SeqTransformer": Seq2SeqTransformer}, compile=False,
            safe_mode=True,
        )
    except (ValueError, OSError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path} is damaged or not a kseq model ({type(error).__name__}: {error}). "
            "Retrain, or restore the file from a backup."
        ) from None


def saved_model_versions(run_dir):
    """The SavedModel versions in RUN_DIR/saved_model/, ascending."""
    base = os.path.join(run_dir, SAVED_MODEL_DIR)
    if not os.path.isdir(base):
        return []
    return sorted(int(name) for name in os.listdir(base) if name.isdigit())
