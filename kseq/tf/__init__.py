"""The parts of kseq that need TensorFlow: the in-graph `Tokenizer` layer and the `Translator`
module that the SavedModel and TFLite exports trace.

Everything else in `kseq` imports without TensorFlow (`tests/test_package.py` checks it).
"""
