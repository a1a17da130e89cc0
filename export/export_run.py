"""Export a run directory: SavedModel for TF Serving, TFLite models for phones."""

import os
import shutil

from export.atomic import atomic_directory
from export.operators import list_operators
from export.saved_model import export_saved_model
from export.tflite import convert_all
from kseq import run_directory as rd
from kseq.tokenizer import END_ID, NUM_SPECIAL_IDS, PAD_ID, START_ID, UNKNOWN_ID
from kseq.translator import Translator

FORMATS = ("saved_model", "tflite")
TFLITE_METADATA = "metadata.json"


def next_version(run_dir):
    """TF Serving serves the highest numbered version: 1 + the highest there."""
    return max(rd.saved_model_versions(run_dir), default=0) + 1


def export_run(run_dir, formats=FORMATS, quantize=(), max_output_length=None, overwrite=False,
               log=print, beam_width=4, length_penalty=0.6, tflite_beam=False):
    """Exports RUN_DIR/model.keras; returns the paths written.

    The SavedModel's `translate_beam` signature keeps `beam_width` hypotheses;
    `tflite_beam` adds `tflite/translator_ids_beam.tflite`, the ids model with that beam search.
    """
    for name in formats:
        if name not in FORMATS:
            raise ValueError(f"Unknown format {name!r}: choose from {', '.join(FORMATS)}.")
    config = rd.load_config(run_dir)
    source_tokenizer, target_tokenizer = rd.load_tokenizers(run_dir, config)
    model = rd.load_model(run_dir)
    translator = Translator(model, source_tokenizer, target_tokenizer, max_output_length, beam_width,
                            length_penalty)
    written = []

    if "saved_model" in formats:
        path = os.path.join(run_dir, rd.SAVED_MODEL_DIR, str(next_version(run_dir)))
        log(f"Writing the SavedModel to {path} ...")
        written.append(export_saved_model(translator, path))

    if "tflite" in formats:
        path = os.path.join(run_dir, rd.TFLITE_DIR)
        log(f"Converting the TFLite models ({', '.join(('float32',) + tuple(quantize))}) ...")
        models = convert_all(translator, ("float32",) + tuple(quantize), beam=tflite_beam)
        with atomic_directory(path, overwrite) as temporary:
            files = {}
            for name, content in models.items():
                with open(os.path.join(temporary, name), "wb") as f:
                    f.write(content)
                files[name] = {"bytes": len(content), "operators": list_operators(content)}
            for tokenizer_file in sorted(set(config["tokenizer"]["files"].values())):
                shutil.copy(os.path.join(run_dir, tokenizer_file), temporary)
            rd.write_json(os.path.join(temporary, TFLITE_METADATA), {
                "special_ids": {"pad": PAD_ID, "unknown": UNKNOWN_ID, "start": START_ID,
                                "end": END_ID, "first_piece": NUM_SPECIAL_IDS},
                "tokenizer": config["tokenizer"]["files"],
                "max_source_length": model.max_source_length,
                "max_output_length": translator.max_length,
                "text_model": {"inputs": {"text": "string[1]"},
                               "outputs": {"translation": "string[1]",
                                           "ids": f"int32[1, {translator.max_length}]"}},
                "ids_model": {
                    "inputs": {"source_ids": f"int32[1, {model.max_source_length}]: SentencePiece "
                               "ids, truncated to max_source_length - 1, then the end id, then 0s"},
                    "outputs": {"ids": f"int32[1, {translator.max_length}]: ids, the end id, then 0s"},
                },
                "beam_ids_model": ({"file": "translator_ids_beam.tflite", "beam_width": beam_width,
                                    "length_penalty": length_penalty} if tflite_beam else None),
                "files": files,
            })
        written.append(path)
        for name, info in files.items():
            log(f"  {name}: {info['bytes'] / 1e6:.1f} MB, custom ops: {info['operators']['custom'] or 'none'}")
    return written

