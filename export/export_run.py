"""Export a run directory: SavedModel for TF Serving, TFLite models for phones."""

import os
import shutil

from export.operators import list_operators
from export.saved_model import export_saved_model
from export.tflite import convert_all
from kseq.atomic import atomic_directory
from kseq.decoding_strategy import Beam
from kseq.errors import ArtifactExistsError, UsageError
from kseq.run_directory import EXPORT_FORMATS as FORMATS, TFLITE_METADATA, RunDirectory, write_json
from kseq.special_ids import END_ID, NUM_SPECIAL_IDS, PAD_ID, START_ID, UNKNOWN_ID
from kseq.tf.translation_graph import TranslationGraph


def export_run(run_dir, formats=FORMATS, quantize=(), max_output_length=None, overwrite=False,
               log=print, beam=Beam(), tflite_beam=False):
    """Exports RUN_DIR/model.keras; returns the paths written.

    The SavedModel's `translate_beam` signature searches with `beam` (a
    `kseq.decoding_strategy.Beam`); `tflite_beam` adds
    `tflite/translator_ids_beam.tflite`, the ids model with that beam search.
    """
    for name in formats:
        if name not in FORMATS:
            raise UsageError(f"Unknown format {name!r}: choose from {', '.join(FORMATS)}.")
    run = RunDirectory(run_dir)
    if "tflite" in formats and os.path.exists(run.tflite_dir) and not overwrite:  # before converting for minutes
        raise ArtifactExistsError(f"{run.tflite_dir} already exists: pass --overwrite to replace it.")
    model = run.load_model()
    graph = TranslationGraph(model, *run.tokenizers(), max_output_length, beam)
    weight_bytes = sum(variable.numpy().nbytes for variable in model.weights)
    written = []

    if "saved_model" in formats:
        path = run.next_saved_model_path()
        log(f"Writing the SavedModel to {path} ...")
        written.append(export_saved_model(graph, path, expected_bytes=weight_bytes))

    if "tflite" in formats:
        log(f"Converting the TFLite models ({', '.join(('float32',) + tuple(quantize))}) ...")
        models = convert_all(graph, ("float32",) + tuple(quantize), beam=tflite_beam)
        tokenizer_paths = sorted(set(run.tokenizer_paths.values()))
        expected = sum(map(len, models.values())) + sum(map(os.path.getsize, tokenizer_paths))
        with atomic_directory(run.tflite_dir, overwrite, expected) as temporary:
            files = {}
            for name, content in models.items():
                with open(os.path.join(temporary, name), "wb") as f:
                    f.write(content)
                files[name] = {"bytes": len(content), "operators": list_operators(content)}
            for tokenizer_path in tokenizer_paths:
                shutil.copy(tokenizer_path, temporary)
            write_json(os.path.join(temporary, TFLITE_METADATA),
                       tflite_metadata(run, graph, files, tflite_beam))
        written.append(run.tflite_dir)
        for name, info in files.items():
            log(f"  {name}: {info['bytes'] / 1e6:.1f} MB, custom ops: {info['operators']['custom'] or 'none'}")
    return written


def tflite_metadata(run, graph, files, tflite_beam):
    """tflite/metadata.json: what an app needs to feed the models and read their outputs."""
    max_source_length = graph.model.max_source_length
    return {
        "special_ids": {"pad": PAD_ID, "unknown": UNKNOWN_ID, "start": START_ID,
                        "end": END_ID, "first_piece": NUM_SPECIAL_IDS},
        "tokenizer": run.config["tokenizer"]["files"],
        "max_source_length": max_source_length,
        "max_output_length": graph.max_length,
        "text_model": {"inputs": {"text": "string[1]"},
                       "outputs": {"translation": "string[1]",
                                   "ids": f"int32[1, {graph.max_length}]"}},
        "ids_model": {
            "inputs": {"source_ids": f"int32[1, {max_source_length}]: SentencePiece "
                       "ids, truncated to max_source_length - 1, then the end id, then 0s"},
            "outputs": {"ids": f"int32[1, {graph.max_length}]: ids, the end id, then 0s"},
        },
        "beam_ids_model": ({"file": "translator_ids_beam.tflite", "beam_width": graph.beam.width,
                            "length_penalty": graph.beam.length_penalty} if tflite_beam else None),
        "files": files,
    }
