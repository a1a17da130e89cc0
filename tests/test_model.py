import inspect

import keras
import numpy as np
import pytest

from kseq.library_internals import transformer_layer_parts
from kseq.loss import SmoothedSparseCrossentropy
from kseq.model import Seq2SeqTransformer, with_dtype_policy

CONFIG = dict(vocabulary_size=40, num_encoder_layers=2, num_decoder_layers=2, hidden_dim=16,
              num_heads=4, intermediate_dim=32, dropout=0.0, max_source_length=12,
              max_target_length=10)


def batch(seed=0):
    rng = np.random.default_rng(seed)
    source = rng.integers(4, 40, size=(4, 7)).astype("int32")
    source[1, 4:] = 0
    decoder = rng.integers(4, 40, size=(4, 6)).astype("int32")
    decoder[:, 0] = 2
    decoder[2, 3:] = 0
    return {"encoder_inputs": source, "decoder_inputs": decoder}


def test_forward_shape_and_head_size():
    model = Seq2SeqTransformer(**CONFIG)
    assert model(batch()).shape == (4, 6, 40)
    attention = model.decoder_layers[0]._self_attention_layer
    assert attention._key_dim == CONFIG["hidden_dim"] // CONFIG["num_heads"]


def test_config_round_trip():
    model = Seq2SeqTransformer(**CONFIG, source_vocabulary_size=30, tie_embeddings=False)
    restored = Seq2SeqTransformer.from_config(model.get_config())
    assert restored.get_config() == model.get_config()
    assert restored.count_params() == model.count_params()


def test_tied_embeddings_share_the_output_projection():
    tied = Seq2SeqTransformer(**CONFIG)
    untied = Seq2SeqTransformer(**CONFIG, tie_embeddings=False)
    assert untied.count_params() - tied.count_params() == CONFIG["vocabulary_size"] * CONFIG["hidden_dim"]


def test_keras_file_round_trip_gives_identical_outputs(tmp_path):
    model = Seq2SeqTransformer(**CONFIG)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(np.asarray(model(batch())), np.asarray(restored(batch())))


@pytest.mark.slow
def test_a_few_fit_steps_lower_the_loss():
    keras.utils.set_random_seed(0)
    model = Seq2SeqTransformer(**CONFIG)
    model.compile(keras.optimizers.Adam(3e-3), SmoothedSparseCrossentropy(0.1), jit_compile=False)
    inputs = batch()
    labels = np.concatenate([inputs["decoder_inputs"][:, 1:], np.full((4, 1), 3)], axis=1)
    weights = (labels != 0).astype("float32")
    losses = [float(model.train_on_batch(inputs, labels, sample_weight=weights)) for _ in range(20)]
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("name, value", [("num_heads", 3), ("max_target_length", 1)])
def test_bad_arguments_are_named(name, value):
    with pytest.raises(ValueError, match=name):
        Seq2SeqTransformer(**{**CONFIG, name: value})


def test_logits_stay_float32_and_mixed_precision_decodes_like_float32(tiny_run):
    import tensorflow as tf

    from kseq.data import load_corpus
    from kseq.decoding import greedy_decode
    from kseq.run_directory import RunDirectory
    from kseq.tf.translation_graph import TranslationGraph

    run_dir, _ = tiny_run
    run = RunDirectory(run_dir)
    model = run.load_model()
    tokenizer, _ = run.tokenizers()
    sources = [source for source, _ in load_corpus(None).test[:300]]
    source_ids = TranslationGraph(model, tokenizer, tokenizer).source_ids(tf.constant(sources))
    expected = greedy_decode(model, source_ids).numpy()
    mixed = with_dtype_policy(model, "mixed_float16")
    logits = mixed({"encoder_inputs": source_ids[:2], "decoder_inputs": source_ids[:2, :3]})
    assert mixed.dtype_policy.name == "mixed_float16" and logits.dtype == "float32"
    same = np.mean(np.all(greedy_decode(mixed, source_ids).numpy() == expected, axis=1))
    # The tiny model's top two logits are often close; the small preset's
    # figure (BENCHMARKS.md) is the one to hold against the 99 % goal.
    assert same >= 0.95


def test_attention_dropout_is_apart_from_residual_dropout(monkeypatch):
    """keras-hub hands `dropout` to its attention layers; Keras fuses attention only at rate 0,
    and tries cuDNN (which refuses the padding mask) only where flash attention was asked for.

    The private attributes behind it are pinned in tests/test_library_internals.py.
    """
    model = Seq2SeqTransformer(**{**CONFIG, "dropout": 0.1})
    layers = [transformer_layer_parts(layer) for layer in model.encoder_layers + model.decoder_layers]
    attentions = [attention for parts in layers for attention in parts.attentions]
    assert len(attentions) == 2 + 2 * 2 and all(a.dropout == 0.0 for a in attentions)
    assert layers[2].self_attention_dropout.rate == 0.1  # residual dropout stays
    attention_module = inspect.getmodule(keras.layers.MultiHeadAttention)  # the ops it calls

    fused = []
    original = attention_module.ops.dot_product_attention
    monkeypatch.setattr(attention_module.ops, "dot_product_attention",
                        lambda *a, **k: fused.append(k.get("flash_attention")) or original(*a, **k))
    model(batch(), training=True)
    assert fused == [False] * len(attentions)  # every attention took the fused path, without cuDNN's try
    with_dropout = Seq2SeqTransformer(**{**CONFIG, "attention_dropout": 0.2})  # residual dropout 0
    assert all(transformer_layer_parts(layer).self_attention.dropout == 0.2 for layer in with_dropout.encoder_layers)
    assert transformer_layer_parts(with_dropout.decoder_layers[0]).feedforward_dropout.rate == 0.0
    with_dropout(batch(), training=True)  # its dropout layers have their seeds
