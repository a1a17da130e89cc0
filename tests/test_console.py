import os

import pytest

from kseq.console import stderr_shown_on_failure, tensorflow_logging_asked_for


def test_cpp_output_is_held_back_unless_the_block_fails(capfd):
    with stderr_shown_on_failure():
        os.write(2, b"pages of MLIR\n")
    assert "pages of MLIR" not in capfd.readouterr().err
    with pytest.raises(RuntimeError):
        with stderr_shown_on_failure():
            os.write(2, b"the op that failed\n")
            raise RuntimeError("conversion failed")
    assert "the op that failed" in capfd.readouterr().err


@pytest.mark.parametrize("level, asked", [(None, False), ("2", False), ("3", False), ("0", True), ("1", True)])
def test_a_user_who_sets_a_verbose_level_gets_the_logs(monkeypatch, level, asked):
    if level is None:
        monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    else:
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
    assert tensorflow_logging_asked_for() is asked
