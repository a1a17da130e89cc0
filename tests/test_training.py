import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, run_kseq, tiny_config


def run_train(*args, cwd=REPO):
    """`python train.py ARGS` in a process of its own."""
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def kseq_train(capsys, *args):
    """`kseq train ARGS` in this process: (exit code, stdout, stderr)."""
    return run_kseq(capsys, "train", *args)


def test_tiny_run_writes_the_run_directory(tiny_run):
    run_dir, metrics = tiny_run
    names = set(os.listdir(run_dir))
    assert {"config.json", "tokenizer.model", "model.keras", "metrics.json", "history.csv", "logs", "curves.png"} <= names
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert 0 <= saved["keras"]["bleu"] <= 100 and 0 < saved["keras"]["chrf"] <= 100
    with open(run_dir / "history.csv") as f:
        history = list(csv.DictReader(f))
    assert len(history) == 3
    assert float(history[-1]["loss"]) < float(history[0]["loss"])


@pytest.mark.slow
def test_train_py_smoke_run(capsys, tiny_data, tmp_path):
    out = tmp_path / "run"
    result = run_train("--preset", "tiny", "--epochs", "1", "--data", str(tiny_data), "--out", str(out),
                       "--no-export")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Test: BLEU" in result.stdout
    assert {"config.json", "tokenizer.model", "model.keras", "metrics.json", "history.csv"} <= set(os.listdir(out))
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"bleu", "chrf", "exact_match"} <= set(metrics["keras"])
    # A second run into the same directory refuses to overwrite it.
    code, _, err = kseq_train(capsys, "--preset", "tiny", "--epochs", "1", "--out", out, "--no-export")
    assert code == 1 and "already exists" in err


def test_malformed_tsv_stops_with_file_and_line(capsys, tmp_path):
    data = tmp_path / "pairs.tsv"
    data.write_text("Hi.\tHola.\nRun!\t¡Corre!\nno tab on this line\n", encoding="utf-8")
    code, _, err = kseq_train(capsys, "--preset", "tiny", "--data", data, "--out", tmp_path / "run")
    assert code == 1 and err.startswith(f"kseq train: error: {data}:3: no tab") and err.count("\n") == 1


def test_unwritable_out_fails_before_training(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = kseq_train(capsys, "--preset", "tiny", "--out", blocker / "run")
    assert code == 1 and "Cannot write to --out" in err


HOLD_IN_THE_SECOND_EPOCH = """
import json, sys, time, keras
from kseq.run_directory import RunDirectory
from kseq.training import train
from kseq.training_config import TrainingConfig

class HoldInTheSecondEpoch(keras.callbacks.Callback):
    \"\"\"Three steps into the second epoch (the first one's backup is whole), says so and waits to be killed.\"\"\"
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == 1 and batch == 2:
            print("Holding in the second epoch.", flush=True)
            time.sleep(600)

config, out = TrainingConfig.from_dict(json.loads(sys.argv[1])), sys.argv[2]
train(config, RunDirectory.create(out), callbacks=[HoldInTheSecondEpoch()])
"""


def read_until(process, text):
    """The process's output up to the line that starts with `text` (all of it, if it ends first)."""
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(text):
            break
    return "".join(lines)


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_end(capsys, tiny_run, tiny_data, tmp_path):
    """SIGKILL in the middle of epoch 2, then --resume: 3 epochs, same loss as uninterrupted."""
    import signal

    out = tmp_path / "run"
    config = tiny_config(epochs=3, data=str(tiny_data), bleu_subset=32)  # tiny_run's, scored by BLEU
    with subprocess.Popen([sys.executable, "-c", HOLD_IN_THE_SECOND_EPOCH, json.dumps(config.to_dict()), str(out)],
                          cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        output = read_until(process, "Holding in the second epoch.")
        process.kill()
    assert process.returncode == -signal.SIGKILL, f"training ended before it could be killed:\n{output[-3000:]}"
    assert json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"] == 1
    assert not (out / "metrics.json").exists()

    code, _, err = kseq_train(capsys, "--resume", "--out", out, "--no-export")
    assert code == 0, err[-3000:]
    with open(out / "history.csv") as f:
        resumed_history = list(csv.DictReader(f))
    with open(tiny_run[0] / "history.csv") as f:
        reference = list(csv.DictReader(f))
    assert [row["epoch"] for row in resumed_history] == ["0", "1", "2"]
    assert all(row["val_bleu"] for row in resumed_history)  # the checkpoint's score, before and after
    final, expected = float(resumed_history[-1]["val_loss"]), float(reference[-1]["val_loss"])
    assert abs(final - expected) < 0.05 * expected, (final, expected)
    assert json.loads((out / "metrics.json").read_text())["keras"]["sentences"] == tiny_run[1]["keras"]["sentences"]


@pytest.mark.slow
def test_a_full_disk_while_training_ends_in_one_line_and_resume_goes_on(capsys, tiny_data, tmp_path, monkeypatch):
    import errno

    import keras

    out = tmp_path / "run"
    save, kept = keras.Model.save, []

    def save_until_the_disk_fills(model, filepath, *args, **kwargs):
        if (out / "model.keras").exists():  # the second epoch's checkpoint: the disk fills half-way
            kept.append((out / "model.keras").read_bytes())
            with open(filepath, "wb") as f:
                f.write(b"PK\x03\x04 half")
            raise OSError(errno.ENOSPC, "No space left on device", filepath)
        save(model, filepath, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save", save_until_the_disk_fills)
    code, _, err = kseq_train(capsys, "--preset", "tiny", "--epochs", "2", "--data", tiny_data, "--out", out,
                              "--no-export", "--eval-batch-size", "256")
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err[-3000:]
    assert err.startswith(f"kseq train: error: No space left to write {out}: ") and "MB are free there" in err
    assert f"`kseq train --resume --out {out}`: it continues from the last good epoch" in err
    assert kept and (out / "model.keras").read_bytes() == kept[0]  # the first epoch's model, whole
    assert not [p for p in out.rglob("*") if "partial" in p.name]
    assert json.loads((out / "backup" / "training_metadata.json").read_text())["epoch"] == 1

    monkeypatch.setattr(keras.Model, "save", save)
    code, _, err = kseq_train(capsys, "--resume", "--out", out, "--no-export")
    assert code == 0, err[-3000:]
    assert (out / "metrics.json").is_file() and (out / "model.keras").read_bytes() != kept[0]
    with open(out / "history.csv") as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]  # the failed epoch once, retrained


def test_a_failed_write_before_training_says_to_start_again(tmp_path):
    from kseq.errors import WriteError
    from kseq.run_directory import RunDirectory
    from kseq.training import writing

    run = RunDirectory(tmp_path)
    with pytest.raises(WriteError, match=rf"^Cannot write to {tmp_path}: Permission denied \(.* MB are free "
                       rf"there\)\. Nothing was trained yet: free some space, empty {tmp_path} and train again\.$"):
        with writing(run):
            raise PermissionError(13, "Permission denied")
    with pytest.raises(ValueError, match="not a write"):
        with writing(run):
            raise ValueError("not a write")


@pytest.mark.slow
def test_nan_loss_stops_training_and_keeps_no_nan_model(capsys, tiny_data, tmp_path):
    out = tmp_path / "run"
    code, _, err = kseq_train(capsys, "--preset", "tiny", "--epochs", "2", "--learning-rate", "1e9",
                              "--data", tiny_data, "--out", out, "--no-export")
    assert code == 1 and "loss became NaN" in err and "no checkpoint" in err and err.count("\n") == 1
    assert not (out / "model.keras").exists()


@pytest.mark.slow
def test_skipped_bad_lines_are_counted_in_metrics(capsys, tmp_path):
    lines = [f"I have {n} books.\tTengo {n} libros.\n" for n in range(300)]
    lines[10] = "no tab here\n"
    lines[20] = "Empty target.\t \n"
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "run"
    code, out_text, err = kseq_train(capsys, "--preset", "tiny", "--epochs", "1", "--data", data,
                                     "--skip-bad-lines", "--out", out, "--no-export")
    assert code == 0, err[-2000:]
    assert "2 bad lines skipped" in out_text
    assert json.loads((out / "metrics.json").read_text())["skipped_lines"] == 2


@pytest.mark.slow
def test_separate_vocabularies_train_and_export(tiny_data, tmp_path):
    from conftest import tiny_config

    from export.export_run import export_run
    from kseq.backends import load
    from kseq.run_directory import RunDirectory
    from kseq.training import train

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    train(tiny_config(epochs=1, joint_vocabulary=False, data=str(tiny_data)), RunDirectory(run_dir))
    assert {"source.model", "target.model"} <= set(os.listdir(run_dir))
    assert "tokenizer.model" not in os.listdir(run_dir)
    export_run(str(run_dir), formats=("tflite",), log=lambda *_: None)
    texts = ["Ten books.", "It is one o'clock."]
    expected = load(run_dir, "keras").translate(texts)[1].tolist()
    assert load(run_dir, "tflite_ids").translate(texts)[1].tolist() == expected
    assert load(run_dir, "tflite").translate(texts)[1].tolist() == expected


@pytest.mark.slow
def test_a_run_killed_while_evaluating_resumes_to_the_evaluation(tiny_data, tmp_path, capsys):
    from conftest import tiny_config

    from kseq.run_directory import RunDirectory
    from kseq.training import train

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    config = tiny_config(epochs=1, data=str(tiny_data))
    train(config, RunDirectory(run_dir))
    (run_dir / "metrics.json").unlink()  # as if killed during the evaluation
    lines = []
    train(config, RunDirectory(run_dir), resume=True, log=lines.append)
    assert "Training had ended before the interruption: evaluating the saved model." in lines
    assert any(line.startswith("Test: BLEU") for line in lines)
    assert "Training had ended" not in capsys.readouterr().out  # every line went to `log`
    with open(run_dir / "history.csv") as f:
        assert len(list(csv.DictReader(f))) == 1  # not trained again
    assert (run_dir / "metrics.json").is_file()


def test_resume_refuses_a_flag_that_would_change_the_saved_settings(capsys, tmp_path):
    from kseq.commands import main

    with pytest.raises(SystemExit) as exit:
        main(["train", "--resume", "--out", str(tmp_path), "--preset", "small"])
    assert exit.value.code == 2 and "--preset would change them" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit:  # allowed flags: on to the run directory, which holds no run
        main(["train", "--resume", "--out", str(tmp_path), "--no-export"])
    assert exit.value.code == 1 and "holds no run to resume" in capsys.readouterr().err


def test_resume_of_a_damaged_config_names_the_file(capsys, tiny_run, tmp_path):
    import shutil

    from kseq.commands import main

    run_dir = tmp_path / "run"
    shutil.copytree(tiny_run[0], run_dir, ignore=shutil.ignore_patterns("metrics.json", "saved_model", "tflite"))
    config = json.loads((run_dir / "config.json").read_text())
    del config["settings"]["hidden_dim"]
    (run_dir / "config.json").write_text(json.dumps(config))
    with pytest.raises(SystemExit) as exit:
        main(["train", "--resume", "--out", str(run_dir)])
    assert exit.value.code == 1 and "config.json lacks the settings hidden_dim" in capsys.readouterr().err
    (run_dir / "config.json").write_text("{ damaged")
    with pytest.raises(SystemExit) as exit:
        main(["train", "--resume", "--out", str(run_dir)])
    assert exit.value.code == 1 and "config.json is not valid JSON" in capsys.readouterr().err


def test_a_finished_run_cannot_be_resumed(capsys, tiny_run):
    code, _, err = kseq_train(capsys, "--resume", "--out", tiny_run[0])
    assert code == 1 and "has finished" in err


@pytest.mark.slow
def test_time_budget_trains_until_the_time_is_spent_with_xla(capsys, tmp_path):
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"I have {n} books.\tTengo {n} libros.\n" for n in range(300)), encoding="utf-8")
    out = tmp_path / "run"
    code, stdout, err = kseq_train(capsys, "--preset", "tiny", "--data", data, "--time-budget", "0.15",
                                   "--jit-compile", "--out", out, "--no-export")
    assert code == 0, err[-2000:]
    assert "0.15-minute budget is spent" in stdout
    config = json.loads((out / "config.json").read_text())["settings"]
    assert config["jit_compile"] and config["time_budget_minutes"] == 0.15
    assert (out / "model.keras").exists() and "Test: BLEU" in stdout
    # XLA compiles per batch shape: at most 4 on TensorFlow too.
    assert 1 <= batch_shapes(stdout).count("(") - 1 <= 4


@pytest.mark.slow
def test_mixed_precision_run_trains_and_saves_a_float32_model(capsys, tiny_data, tmp_path):
    import keras

    out = tmp_path / "run"
    code, stdout, err = kseq_train(capsys, "--preset", "tiny", "--epochs", "1", "--mixed-precision", "mixed_float16",
                                   "--data", tiny_data, "--out", out, "--no-export")
    assert code == 0, err[-2000:]
    assert "Test: BLEU" in stdout and keras.config.dtype_policy().name == "float32"  # the policy is put back
    with open(out / "history.csv") as f:
        loss = float(next(csv.DictReader(f))["loss"])
    assert loss == loss and loss < 10  # finite: loss scaling kept float16 from overflowing
    assert json.loads((out / "config.json").read_text())["settings"]["mixed_precision"] == "mixed_float16"


# As on a GPU machine with JAX only: importing TensorFlow fails.
TRAIN_WITHOUT_TENSORFLOW = """
import runpy, sys
sys.modules["tensorflow"] = None
sys.argv = ["train.py"] + sys.argv[1:]
runpy.run_path("train.py", run_name="__main__")
"""


def run_on_jax(*args, env=None):
    """train.py on Keras' JAX backend in a process where TensorFlow cannot be imported."""
    return subprocess.run(
        [sys.executable, "-c", TRAIN_WITHOUT_TENSORFLOW, *args], cwd=REPO, capture_output=True, text=True,
        timeout=600, env=dict(os.environ, KERAS_BACKEND="jax", JAX_LOG_COMPILES="1", **(env or {})))


def compilations(log, function):
    """How many times JAX compiled `function` (cache hits are compilations the cache saved)."""
    return log.count(f"Compiling jit({function})")


def cache_hits(log, function):
    return log.count(f"cache hit for 'jit_{function}'")


def batch_shapes(stdout):
    return next(line for line in stdout.splitlines() if line.startswith("Batches:"))


@pytest.fixture(scope="session")
def jax_run(tmp_path_factory):
    """(run directory trained on JAX without TensorFlow, the process's output, the data file)."""
    from kseq.builtin_corpus import builtin_pairs

    tmp_path = tmp_path_factory.mktemp("jax_run")
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{s}\t{t}\n" for s, t in builtin_pairs()[:3000]), encoding="utf-8")
    out = tmp_path / "run"
    result = run_on_jax("--preset", "tiny", "--epochs", "4", "--data", str(data), "--out", str(out),
                        "--compilation-cache", str(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result, data


@pytest.mark.slow
def test_trains_on_jax_without_tensorflow_and_prints_the_export_command(jax_run):
    out, result, _ = jax_run
    assert {"config.json", "tokenizer.model", "model.keras", "metrics.json", "history.csv", "curves.png",
            } <= set(os.listdir(out))
    assert f"kseq export {out}" in result.stdout
    with open(out / "history.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert len(losses) == 4 and losses[-1] < 0.8 * losses[0]
    config = json.loads((out / "config.json").read_text())
    assert config["settings"]["backend"] == "jax" and config["settings"]["jit_compile"]


@pytest.mark.slow
def test_jax_compiles_each_step_once_per_bucket(jax_run):
    _, result, _ = jax_run
    buckets = batch_shapes(result.stdout).count("(") - 1  # "shapes (rows, positions) [(r, n), ...]"
    assert 1 <= buckets <= 4
    # Four epochs, shuffled: still one compilation per bucket, for training and for validation,
    # all of them before the first step (`kseq.precompile`): fit() reads each from the cache.
    for step in ("train_step", "test_step"):
        assert 1 <= compilations(result.stderr, step) - cache_hits(result.stderr, step) <= buckets
        assert cache_hits(result.stderr, step) == compilations(result.stderr, step) // 2 >= 1
    assert f"Compiled {buckets} train and" in result.stdout
    # Evaluation decodes in at most two shapes (`KerasTranslator(batch_size=...)`).
    assert 1 <= compilations(result.stderr, "decode") <= 2


@pytest.mark.slow
def test_a_second_run_of_the_same_shapes_compiles_nothing(jax_run, tmp_path):
    first, _, data = jax_run
    # The same settings (the epochs set the schedule, which is compiled into the step).
    again = run_on_jax("--preset", "tiny", "--epochs", "4", "--data", str(data), "--out", str(tmp_path / "run"),
                       "--compilation-cache", str(first.parent / "cache"), "--no-export")
    assert again.returncode == 0, again.stderr[-3000:]
    steps = compilations(again.stderr, "train_step")
    assert steps >= 1 and again.stderr.count("cache hit for 'jit_train_step'") == steps


@pytest.mark.slow
def test_a_jax_trained_run_scores_and_exports_the_same_under_tensorflow(jax_run):
    from export.export_run import export_run
    from export.parity import check_parity
    from kseq.backends import load
    from kseq.data import load_corpus
    from kseq.evaluation import evaluate

    out, _, data = jax_run
    test_pairs = load_corpus(str(data)).test
    scores, _ = evaluate(load(str(out), "keras"), test_pairs, verbose=False)
    jax_scores = json.loads((out / "metrics.json").read_text())["keras"]
    assert scores["bleu"] == pytest.approx(jax_scores["bleu"], abs=0.5)
    export_run(str(out), log=lambda *_: None)
    report = check_parity(str(out), [source for source, _ in test_pairs])
    for backend in ("saved_model", "tflite", "tflite_ids"):
        assert report[backend]["same_ids"] == 100.0, report[backend]


@pytest.mark.slow
def test_data_parallel_on_two_devices_matches_one_device(jax_run, tmp_path):
    one_device, _, data = jax_run  # the same settings on one device
    out = tmp_path / "two"
    result = run_on_jax("--preset", "tiny", "--epochs", "4", "--data", str(data), "--out", str(out),
                        "--no-export", "--no-compilation-cache", "--distribute", "data_parallel",
                        env={"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Distributed (data_parallel): 2 replicas" in result.stdout
    assert "cache hit for 'jit_train_step'" not in result.stderr  # --no-compilation-cache: all compiled anew
    losses = {}
    for name, run_dir in (("one", one_device), ("two", out)):
        with open(run_dir / "history.csv") as f:
            losses[name] = [float(row["loss"]) for row in csv.DictReader(f)]
    # Rows per batch are multiples of 16 instead of 8 on two devices: nearly the same batches.
    assert losses["two"][-1] == pytest.approx(losses["one"][-1], rel=0.07)


def test_data_parallel_is_refused_on_tensorflow(capsys, tmp_path):
    code, _, err = kseq_train(capsys, "--preset", "tiny", "--distribute", "data_parallel", "--out", tmp_path / "run")
    assert code == 2 and "KERAS_BACKEND=jax" in err and err.count("\n") == 1


def test_train_refuses_a_dict_and_a_budget_the_config_does_not_time(tmp_path):
    from kseq.errors import UsageError
    from kseq.run_directory import RunDirectory
    from kseq.time_budget import TimeBudget
    from kseq.training import train

    run = RunDirectory(tmp_path)
    with pytest.raises(TypeError, match=r"TrainingConfig.from_preset\(...\).*TrainingConfig.from_dict.* dict$"):
        train(tiny_config().to_dict(), run)
    with pytest.raises(UsageError, match="`budget` needs `config.time_budget_minutes`"):
        train(tiny_config(), run, budget=TimeBudget(1))
    assert not os.listdir(tmp_path)


def test_a_resumed_run_finds_its_best_epoch_in_the_history(tmp_path):
    from kseq.training import best_logged_epoch

    history = tmp_path / "history.csv"
    assert best_logged_epoch(history) is None
    history.write_text("epoch,loss,val_bleu,val_loss\n0,3.0,10.5,2.5\n1,2.0,12.0,2.6\n2,nan,0.0,nan\n")
    assert best_logged_epoch(history) == {"val_bleu": 10.5, "val_loss": 2.5}
    assert best_logged_epoch(history, "val_bleu") == {"val_bleu": 12.0, "val_loss": 2.6}
    history.write_text("epoch,loss,val_loss\n0,3.0,2.5\n")  # a run that chose by loss
    assert best_logged_epoch(history, "val_loss") == {"val_loss": 2.5}


def test_subword_sampling_segments_the_training_pairs_anew_each_epoch():
    from kseq.builtin_corpus import builtin_pairs
    from kseq.data import make_examples
    from kseq.training import build_vocabularies, make_batches, subword_sampling

    pairs = builtin_pairs()[:2000]
    config = tiny_config(subword_alpha=0.5)
    vocabulary, _ = build_vocabularies(pairs, config)
    examples = make_examples(pairs, vocabulary, vocabulary, 40, 40)
    resegment = subword_sampling(pairs, examples, config, vocabulary, vocabulary)
    batches, _ = make_batches(examples, examples, config, resegment=resegment)
    first = batches.target.copy()
    batches.on_epoch_end()
    assert batches.resegmented > 0.5 and not np.array_equal(first, batches.target)
    # Every sampled segmentation spells the same text.
    assert vocabulary.decode(batches.target[:50]) == vocabulary.decode(examples.target[:50])
    assert subword_sampling(pairs, examples, tiny_config(), vocabulary, vocabulary) is None
