"""kseq.library_internals: each private route still works on the installed libraries,
and no other module of kseq/ or export/ takes one."""

import ast
import inspect
import pathlib
import re

import keras
import keras_hub
import numpy as np
import pytest

from kseq import library_internals
from kseq.library_internals import (
    disable_per_channel_quantization,
    replace_symbolic_build,
    set_attention_dropout,
    symbolic_build,
    transformer_layer_parts,
    variables_to_constants,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCANNED = ("kseq", "export")
# The modules allowed to reach other libraries' private parts: only the one that keeps them.
ALLOWED = {"kseq/library_internals.py"}
PRIVATE_MODULES = re.compile(r"\bkeras\.src\b|\btensorflow\.python\b")
OWN_NAMES = {"self", "cls"}


def versions():
    import tensorflow as tf

    return f"Keras {keras.__version__}, keras-hub {keras_hub.__version__}, TensorFlow {tf.__version__}"


def check(function, condition, what):
    """Fails naming the internal and the installed versions."""
    assert condition, (f"kseq.library_internals.{function.__name__}: {what} on {versions()}; "
                       "find the new private route (or a public one) and update the function.")


def private_uses(source):
    """(line, text) for each `keras.src` / `tensorflow.python` mention and each `_name`
    attribute read or set on anything but `self` or `cls`."""
    uses = [(number, line.strip()) for number, line in enumerate(source.splitlines(), 1)
            if PRIVATE_MODULES.search(line)]
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in OWN_NAMES)):
            uses.append((node.lineno, ast.unparse(node)))
    return uses


def test_no_private_api_outside_library_internals():
    found = {}
    for package in SCANNED:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name not in ALLOWED and (uses := private_uses(path.read_text())):
                found[name] = uses
    assert not found, ("Private APIs of other libraries belong in kseq/library_internals.py, "
                       f"behind a named function. Found: {found}")


@pytest.mark.parametrize("line", [
    "attention._dropout = 0.0",
    "model._symbolic_build(data_batch=batch)",
    "x = layer._self_attention_layer.query_dense",
    "from tensorflow.python.framework import convert_to_constants",
    "import keras.src.utils",
    "value = super()._private()",
])
def test_the_scan_finds_a_private_use(line):
    assert private_uses(line)


@pytest.mark.parametrize("line", ["self._cache = {}", "cls._registry[name] = value", "x = model.dropout",
                                  "value.__class__", "text = 'torch.utils'"])
def test_the_scan_leaves_public_uses_alone(line):
    assert not private_uses(line)


def test_the_allowed_module_holds_them():
    assert all(private_uses((ROOT / name).read_text()) for name in ALLOWED)


def built_layers(dropout=0.1):
    encoder = keras_hub.layers.TransformerEncoder(16, 2, dropout=dropout)
    decoder = keras_hub.layers.TransformerDecoder(16, 2, dropout=dropout)
    x = np.ones((2, 3, 8), "float32")
    encoder(x)
    decoder(x, x)
    return encoder, decoder


def test_transformer_layer_parts():
    encoder, decoder = built_layers()
    for layer, attentions in ((encoder, 1), (decoder, 2)):
        try:
            parts = transformer_layer_parts(layer)
        except AttributeError as error:
            check(transformer_layer_parts, False, f"{error}")
        check(transformer_layer_parts, len(parts.attentions) == attentions
              and all(isinstance(a, keras.layers.MultiHeadAttention) for a in parts.attentions),
              f"{type(layer).__name__} has not its attention layers")
        check(transformer_layer_parts, all(isinstance(d, keras.layers.Dropout) for d in parts.residual_dropouts)
              and len(parts.residual_dropouts) == attentions + 1, "the residual dropouts moved")
        dense = (parts.feedforward_intermediate_dense, parts.feedforward_output_dense)
        norms = [parts.self_attention_norm, parts.feedforward_norm, *([parts.cross_attention_norm] * (attentions - 1))]
        check(transformer_layer_parts, all(isinstance(d, keras.layers.Dense) for d in dense)
              and all(isinstance(n, keras.layers.LayerNormalization) for n in norms),
              "the feed-forward or norm layers moved")
        # Every weight of the layer is reached through its parts (the Marian import assigns them all).
        reached = {id(w) for part in (*parts.attentions, *dense, *norms) for w in part.weights}
        check(transformer_layer_parts, reached == {id(w) for w in layer.weights}, "some weights are not reached")


def test_set_attention_dropout_sets_the_rates_keras_reads(monkeypatch):
    from kseq.model import Seq2SeqTransformer

    encoder, decoder = built_layers(dropout=0.2)
    for layer in (encoder, decoder):
        set_attention_dropout(layer, dropout=0.2, attention_dropout=0.0, flash_attention=False)
        parts = transformer_layer_parts(layer)
        check(set_attention_dropout, all(a.dropout == 0.0 for a in parts.attentions),
              "MultiHeadAttention.dropout does not follow")
        check(set_attention_dropout, all(d.rate == 0.2 for d in parts.residual_dropouts),
              "the residual dropouts' rates moved")
    # Keras takes the fused attention path, without cuDNN's try, once the rate is 0.
    model = Seq2SeqTransformer(vocabulary_size=20, num_encoder_layers=1, num_decoder_layers=2, hidden_dim=8,
                               num_heads=2, intermediate_dim=16, dropout=0.1, max_source_length=6,
                               max_target_length=6)
    attention_module = inspect.getmodule(keras.layers.MultiHeadAttention)
    fused, original = [], attention_module.ops.dot_product_attention

    def counting(*args, **kwargs):
        fused.append(kwargs.get("flash_attention"))
        return original(*args, **kwargs)

    ids = np.array([[5, 6, 7, 2], [5, 6, 2, 0]], "int32")
    monkeypatch.setattr(attention_module.ops, "dot_product_attention", counting)
    model({"encoder_inputs": ids, "decoder_inputs": ids}, training=True)
    check(set_attention_dropout, fused == [False] * 5, f"the fused path was not taken: {fused}")


def test_symbolic_build_builds_the_metrics_state():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"])
    batch = (np.ones((4, 3), "float32"), np.ones((4, 1), "float32"))
    try:
        symbolic_build(model, batch)
    except AttributeError as error:
        check(symbolic_build, False, f"{error}")
    check(symbolic_build, model.metrics_variables and model.optimizer.built, "the state is not built")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="a TensorFlow trainer's method")
def test_replace_symbolic_build_is_what_fit_calls():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    original = getattr(model, "_maybe_symbolic_build", None)
    check(replace_symbolic_build, original is not None, "Keras' `_maybe_symbolic_build` is gone")
    calls = []

    def build(iterator=None, data_batch=None):
        calls.append(True)
        original(iterator=iterator, data_batch=data_batch)

    replace_symbolic_build(model, build)
    model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=1, verbose=0)
    check(replace_symbolic_build, calls, "fit() no longer calls `_maybe_symbolic_build`")


def test_variables_to_constants():
    import tensorflow as tf

    variable = tf.Variable(3.0)
    function = tf.function(lambda x: x * variable, input_signature=[tf.TensorSpec([], tf.float32)])
    frozen = variables_to_constants(function.get_concrete_function())
    ops_left = {node.op for node in frozen.graph.as_graph_def().node}
    check(variables_to_constants, "ReadVariableOp" not in ops_left and float(frozen(tf.constant(2.0))[0]) == 6.0,
          f"the function keeps its variables: {sorted(ops_left)}")


def test_disable_per_channel_quantization():
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    weights = tf.constant(np.random.default_rng(0).normal(size=(64, 32)).astype("float32"))
    function = tf.function(lambda x: tf.matmul(x, weights), input_signature=[tf.TensorSpec([1, 64], tf.float32)])

    def weight_scales(per_tensor):
        converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()])
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if per_tensor:
            flags = {name: value for name, value in vars(converter).items() if "per_channel" in name}
            check(disable_per_channel_quantization, flags.get("_experimental_disable_per_channel") is False,
                  f"the converter's per-channel flags are {flags}")
            disable_per_channel_quantization(converter)
        interpreter = Interpreter(model_content=converter.convert())
        return max(len(t["quantization_parameters"]["scales"]) for t in interpreter.get_tensor_details())

    check(disable_per_channel_quantization, weight_scales(per_tensor=False) == 32,
          "dynamic quantization is no longer per channel by default")
    check(disable_per_channel_quantization, weight_scales(per_tensor=True) == 1,
          "the weights are still quantized per channel")


def test_every_internal_is_tested():
    functions = {name for name, value in vars(library_internals).items()
                 if inspect.isfunction(value) and value.__module__ == library_internals.__name__}
    tests = [name for name in globals() if name.startswith("test_")]
    untested = {f for f in functions if not any(t.startswith(f"test_{f}") for t in tests)}
    assert not untested, f"kseq.library_internals functions without a test here: {sorted(untested)}"
