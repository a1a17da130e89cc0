"""The parts of kseq that need TensorFlow, each importing it at the top:

- `tokenizer`: the in-graph `Tokenizer` layer (tensorflow-text's SentencePiece);
- `translation_graph`: the `TranslationGraph` module that the SavedModel and TFLite exports trace;
- `saved_model_translator`: the SavedModel export as a translator (`kseq.load(..., backend="saved_model")`);
- `strategies`: `tf.distribute`'s strategies for `kseq train --distribute`, and Keras' fixes under them;
- `datasets`: length-bucketed batches as a `tf.data.Dataset`, for TensorFlow's `fit()`.

Modules here may import the rest of `kseq`; the rest imports `kseq.tf` only inside the
function that needs TensorFlow, and imports without it (`tests/test_package.py` checks it).
"""
