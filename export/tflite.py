"""TFLite (LiteRT) models with the greedy loop inside: a text model and an ids model
(and, opt-in, an ids model with the beam search inside)."""

import gc

import tensorflow as tf

from kseq.console import stderr_shown_on_failure
from kseq.library_internals import disable_per_channel_quantization, variables_to_constants
from kseq.run_directory import TFLITE_VARIANTS, tflite_file_name

QUANTIZATIONS = TFLITE_VARIANTS


def text_function(graph):
    """String (1,) -> translation string (1,) and ids (1, max_length).

    Batch 1: TF Text's FastSentencepiece kernels in LiteRT crash on larger
    batches. The source is padded to `max_source_length`, so
    every shape in the graph is static.
    """
    length = graph.model.max_source_length
    return tf.function(
        lambda text: graph.translate_text(text, source_length=length),
        input_signature=[tf.TensorSpec([1], tf.string, name="text")],
    ).get_concrete_function()


def ids_function(graph):
    """Source ids (1, max_source_length) -> ids (1, max_length); builtin ops only."""
    shape = [1, graph.model.max_source_length]
    return tf.function(
        lambda source_ids: graph.decode_ids(source_ids),
        input_signature=[tf.TensorSpec(shape, tf.int32, name="source_ids")],
    ).get_concrete_function()


def beam_ids_function(graph):
    """As `ids_function`, with the beam search `graph.beam`: it converts with builtin ops only."""
    shape = [1, graph.model.max_source_length]
    return tf.function(
        lambda source_ids: graph.decode_ids(source_ids, graph.beam),
        input_signature=[tf.TensorSpec(shape, tf.int32, name="source_ids")],
    ).get_concrete_function()


def freeze(concrete_function):
    """The function with its variables as constants, keeping its input and output names.

    The converter's own freezing keeps resource variables, whose reads fail
    inside a TFLite WHILE body: they are turned into constants first.
    """
    frozen = variables_to_constants(concrete_function)
    input_signature = concrete_function.structured_input_signature[0]
    return tf.function(
        lambda *inputs: tf.nest.pack_sequence_as(
            concrete_function.structured_outputs, frozen(*inputs)
        ),
        input_signature=input_signature,
    ).get_concrete_function()


def convert(frozen_function, quantization="float32", custom_ops=False):
    """Converts a `freeze`d function with TFLite builtin ops only (plus TF Text custom ops if allowed).

    Frozen, so the weights are constants: a WHILE body reading resource
    variables fails at run time.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"`quantization` must be one of {QUANTIZATIONS}. Received: {quantization!r}")
    # The converter writes its trackable object to a SavedModel and reads it
    # back before converting. The frozen function needs nothing of the
    # graph's variables: an empty module gives the same bytes in a third
    # of the time; None would drop the `serving_default` signature LiteRT reads.
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen_function], tf.Module())
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.allow_custom_ops = custom_ops
    if quantization != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantization == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantization == "dynamic":
        # One int8 scale per tensor rather than per output channel. The tied
        # embedding feeds a lookup (always quantized per tensor) and the output
        # projection (per channel by default), so per channel it is stored
        # twice: a larger file for no BLEU (BENCHMARKS.md).
        disable_per_channel_quantization(converter)
    # With custom ops allowed the converter prints pages of MLIR listing the
    # TF Text ops, on success too, and its absl logging ignores
    # TF_CPP_MIN_LOG_LEVEL; the operators a model uses are in metadata.json.
    with stderr_shown_on_failure():
        return converter.convert()


def convert_all(graph, quantizations=("float32",), beam=False):
    """Returns {file name: flatbuffer bytes} for the text and ids models (and the beam ids model)."""
    kinds = [("text", text_function, True), ("ids", ids_function, False)]
    if beam:
        kinds.append(("ids_beam", beam_ids_function, False))
    models = {}
    for kind, function, custom_ops in kinds:
        frozen = freeze(function(graph))  # once: it traces the whole decode loop
        for quantization in quantizations:
            models[tflite_file_name(kind, quantization)] = convert(frozen, quantization, custom_ops)
            # Each converter reloads its SavedModel copy into reference cycles: collected
            # now, not at Python's next automatic pass, six conversions peak like one.
            gc.collect()
    return models
