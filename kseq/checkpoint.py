"""Epoch backups that a kill cannot leave half-written, and the resume from them."""

import os
import shutil

import keras

from kseq.atomic import atomic_file
from kseq.run_directory import read_json, write_json

WEIGHTS_FILE = "latest.weights.h5"  # the weights with the optimizer's state
EPOCHS_FILE = "training_metadata.json"  # {"epoch": epochs done}


class EpochBackup(keras.callbacks.Callback):
    """Saves the weights, the optimizer's state and the epochs done at each epoch's end.

    Keras' `BackupAndRestore` writes its files in place, so a kill during the
    write leaves a corrupt backup, and it resumes through a private model
    attribute. Here each file is written beside its target and renamed over
    it (a reader sees the previous epoch's state or the new one), and the
    resume goes through `fit(initial_epoch=resume_from_backup(...))`: public
    Keras API only. Weights go first, then the epoch count, so a kill between
    the two repeats one epoch from newer weights rather than skipping one.
    The backup is removed once `fit()` ends.

    Args:
        directory: str. Where the backup lives while training runs.
    """

    async_safe = True  # saves once an epoch: needs no step's logs

    def __init__(self, directory):
        super().__init__()
        self.directory = directory

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self.directory, exist_ok=True)
        with atomic_file(os.path.join(self.directory, WEIGHTS_FILE)) as temporary:
            self.model.save_weights(temporary, overwrite=True)
        write_json(os.path.join(self.directory, EPOCHS_FILE), {"epoch": epoch + 1})

    def on_train_end(self, logs=None):
        shutil.rmtree(self.directory, ignore_errors=True)


def resume_from_backup(model, directory):
    """Loads an `EpochBackup` into the compiled `model`; returns the epoch to go on from (0: none)."""
    weights = os.path.join(directory, WEIGHTS_FILE)
    if not os.path.isfile(weights):
        return 0
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)  # its state is in the weights file
    model.load_weights(weights)
    epochs = os.path.join(directory, EPOCHS_FILE)
    return read_json(epochs)["epoch"] if os.path.isfile(epochs) else 0
