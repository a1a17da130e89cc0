import subprocess
import sys


def test_kseq_train_help():
    result = subprocess.run([sys.executable, "-m", "kseq.cli", "train", "--help"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--preset" in result.stdout


def test_unknown_command_lists_the_valid_ones():
    result = subprocess.run([sys.executable, "-m", "kseq.cli", "fly"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "train" in result.stderr
