"""Token ids in a `.npz` file: training data for a Keras backend without TensorFlow.

The tokenizer runs on TensorFlow (tensorflow-text ops); the model, its loss
and the greedy decoding use `keras.ops` only. Tokenizing once, here, lets
`fit()` and decoding run on JAX, on a machine with no TensorFlow at all. This
module imports NumPy alone.

The file holds, per split, `<split>_source` and `<split>_target`: int32
arrays (pairs, longest) padded with 0, sources ending with the end id as the
model reads them; and `tokenizer_model`, the SentencePiece model's bytes.
"""

import numpy as np

from kseq.special_ids import END_ID, PAD_ID, START_ID


def save(path, examples, tokenizer_model):
    """Writes `{split: kseq.data.Examples}` and the tokenizer model file's bytes to `path`."""
    arrays = {"tokenizer_model": np.frombuffer(tokenizer_model, dtype=np.uint8)}
    for split, split_examples in examples.items():
        arrays[f"{split}_source"] = split_examples.source_ids.to_tensor(PAD_ID).numpy().astype(np.int32)
        arrays[f"{split}_target"] = split_examples.target_ids.to_tensor(PAD_ID).numpy().astype(np.int32)
    np.savez_compressed(path, **arrays)


def load(path):
    """Reads a file written by `save`: `({split: (source, target)}, tokenizer model bytes)`."""
    with np.load(path) as data:
        splits = {name[: -len("_source")]: (data[name], data[name.replace("_source", "_target")])
                  for name in data.files if name.endswith("_source")}
        return splits, data["tokenizer_model"].tobytes()


def model_inputs(source, target):
    """Arrays for `fit()`: `({"encoder_inputs", "decoder_inputs"}, labels, sample_weight)`.

    The NumPy twin of the `tf.data` pipeline's batches (`kseq.data`): decoder
    inputs start with the start id, labels end with the end id, and padding
    weighs nothing in the loss.
    """
    rows = np.arange(len(target))
    lengths = np.sum(target != PAD_ID, axis=1)
    decoder_inputs = np.concatenate([np.full((len(target), 1), START_ID, np.int32), target], axis=1)
    labels = np.concatenate([target, np.full((len(target), 1), PAD_ID, np.int32)], axis=1)
    labels[rows, lengths] = END_ID
    sample_weight = (labels != PAD_ID).astype(np.float32)
    return {"encoder_inputs": source, "decoder_inputs": decoder_inputs}, labels, sample_weight
