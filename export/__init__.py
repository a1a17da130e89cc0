"""Export code: SavedModel for TF Serving and TFLite for phones (`python -m export RUN_DIR`).

It traces the graphs of `kseq.tf` and needs TensorFlow. Of kseq, only the commands
(`kseq.commands`) import it.
"""
