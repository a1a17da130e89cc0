"""Export code: SavedModel for TF Serving and TFLite for phones (`python -m export RUN_DIR`)."""
