import json

import keras
import numpy as np

from kseq.checkpoint import EpochBackup, resume_from_backup


class _CrashAfter(keras.callbacks.Callback):
    """Raises at the end of epoch `epochs`, like a kill, leaving the backup behind."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


def fit(backup_dir, callbacks=()):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("adam", "mse")
    return model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=4, verbose=0,
                     initial_epoch=resume_from_backup(model, str(backup_dir)),
                     callbacks=[*callbacks, EpochBackup(str(backup_dir))])


def test_backup_files_are_whole_and_training_resumes_from_them(tmp_path):
    backup = tmp_path / "backup"
    try:
        fit(backup, callbacks=[_CrashAfter(2)])
    except KeyboardInterrupt:
        pass
    assert sorted(p.name for p in backup.iterdir()) == ["latest.weights.h5", "training_metadata.json"]
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 1  # epoch 2 never finished
    history = fit(backup)
    assert history.epoch == [1, 2, 3]  # resumed, not restarted
    assert not backup.exists()  # removed once training ends
