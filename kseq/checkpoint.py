"""Epoch backups that a kill cannot leave half-written."""

import os

import keras

from kseq.run_directory import write_json


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore` (weights, optimizer state, epoch), written atomically.

    Keras writes `latest.weights.h5` in place, so a kill during the write
    leaves a corrupt backup. Here each file is written beside its target and
    renamed over it: a reader sees the previous epoch's state or the new one.
    Weights go first, then the epoch number, so a kill between the two
    repeats one epoch from newer weights rather than skipping one.

    Args:
        backup_dir: str. Where the backup lives while training runs.
    """

    async_safe = True  # saves once an epoch: needs no step's logs

    def __init__(self, backup_dir):
        super().__init__(backup_dir, save_freq="epoch", delete_checkpoint=True)

    def _save_model(self):  # overrides Keras' in-place writer
        os.makedirs(self.backup_dir, exist_ok=True)
        partial = os.path.join(self.backup_dir, "partial.weights.h5")
        self.model.save_weights(partial, overwrite=True)
        os.replace(partial, self._weights_path)
        write_json(self._training_metadata_path,
                   {"epoch": self._current_epoch, "batch": self._last_batch_seen})
