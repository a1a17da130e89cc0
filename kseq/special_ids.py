"""The token ids every kseq vocabulary reserves, importable without TensorFlow."""

PAD_ID = 0
UNKNOWN_ID = 1
START_ID = 2
END_ID = 3
NUM_SPECIAL_IDS = 4
