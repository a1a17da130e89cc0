import argparse
import json
import pathlib

import pytest

from kseq import device, public_corpora
from kseq.commands import train as train_command
from kseq.errors import RunDirectoryError, UsageError
from kseq.presets import PRESETS
from kseq.run_directory import RunDirectory
from kseq.training_config import (
    ACCELERATOR_TOKENS_PER_BATCH,
    FINE_TUNING,
    UNBOUNDED_EPOCHS,
    TrainingConfig,
    default_mixed_precision,
)


def test_a_preset_fills_every_model_and_training_field_and_overrides_win():
    config = TrainingConfig.from_preset("small", hidden_dim=128, data="pairs.tsv")
    assert config.preset == "small" and config.hidden_dim == 128 and config.data == "pairs.tsv"
    assert {key: getattr(config, key) for key in PRESETS["small"] if key != "hidden_dim"} == {
        key: value for key, value in PRESETS["small"].items() if key != "hidden_dim"}
    assert config.model_options() == {
        "num_encoder_layers": 2, "num_decoder_layers": 2, "hidden_dim": 128, "num_heads": 4,
        "intermediate_dim": 1024, "dropout": 0.0, "attention_dropout": 0.0,
        "max_source_length": 64, "max_target_length": 64}
    with pytest.raises(UsageError, match="--preset must be one of base, small, tiny. Received: 'huge'"):
        TrainingConfig.from_preset("huge")


def test_a_time_budget_without_epochs_trains_until_the_time_is_spent():
    assert TrainingConfig.from_preset("tiny", time_budget_minutes=5).epochs == UNBOUNDED_EPOCHS
    assert TrainingConfig.from_preset("tiny", time_budget_minutes=5, epochs=3).epochs == 3
    assert TrainingConfig.from_preset("tiny").epochs == PRESETS["tiny"]["epochs"]


def test_device_defaults(monkeypatch):
    monkeypatch.setattr(device, "cpu_computes_bfloat16", lambda: False)
    tiny = TrainingConfig.from_preset("tiny")
    on_cpu = tiny.with_device_defaults("cpu", "tensorflow")
    assert (on_cpu.tokens_per_batch, on_cpu.jit_compile, on_cpu.mixed_precision) == (2048, False, None)
    assert (on_cpu.device, on_cpu.backend) == ("cpu", "tensorflow")
    on_gpu = tiny.with_device_defaults("gpu", "jax")
    assert (on_gpu.tokens_per_batch, on_gpu.jit_compile, on_gpu.mixed_precision) == (
        ACCELERATOR_TOKENS_PER_BATCH, True, "mixed_bfloat16")
    assert tiny.with_device_defaults("gpu", "jax", "float32").mixed_precision is None
    assert tiny.with_device_defaults("cpu", "torch", "mixed_float16").mixed_precision == "mixed_float16"
    with pytest.raises(UsageError, match="--mixed-precision must be auto or one of"):
        tiny.with_device_defaults("cpu", "jax", "int8")


@pytest.mark.parametrize("kind, backend, bfloat16_cpu, expected", [
    ("gpu", "jax", False, "mixed_bfloat16"),
    ("tpu", "tensorflow", False, "mixed_bfloat16"),
    ("cpu", "tensorflow", True, "mixed_bfloat16"),
    ("cpu", "tensorflow", False, "float32"),
    ("cpu", "jax", True, "float32"),  # XLA's CPU compiler, unmeasured: float32
])
def test_default_mixed_precision(monkeypatch, kind, backend, bfloat16_cpu, expected):
    monkeypatch.setattr(device, "cpu_computes_bfloat16", lambda: bfloat16_cpu)
    assert default_mixed_precision(kind, backend) == expected


def parse(*flags):
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    return parser.parse_args(list(flags))


def test_flags_override_the_preset_and_the_device_defaults(monkeypatch):
    monkeypatch.setattr(device, "accelerator", lambda: "gpu")
    config = train_command.config_from_args(parse("--preset", "tiny", "--tokens-per-batch", "4096", "--no-jit-compile",
                                                  "--separate-vocabularies", "--time-budget", "2"))
    assert config.tokens_per_batch == 4096 and not config.jit_compile and config.device == "gpu"
    assert not config.joint_vocabulary and config.time_budget_minutes == 2 and config.epochs == UNBOUNDED_EPOCHS
    assert train_command.config_from_args(parse("--preset", "tiny")).tokens_per_batch == ACCELERATOR_TOKENS_PER_BATCH


@pytest.mark.parametrize("flags, message", [
    (("--num-heads", "3"), "--num-heads must divide --hidden-dim. Received: --num-heads 3, --hidden-dim 32"),
    (("--max-target-length", "1"), "--max-target-length must be at least 2. Received: 1"),
    (("--epochs", "0"), "--epochs must be at least 1. Received: 0"),
    (("--time-budget", "0"), "--time-budget must be a positive number of minutes. Received: 0.0"),
    (("--dropout", "1.5"), r"--dropout must be in \[0, 1\). Received: 1.5"),
    (("--learning-rate", "-1"), "--learning-rate must be at least 0. Received: -1.0"),
    (("--eval-batch-size", "0"), "--eval-batch-size must be at least 1. Received: 0"),
])
def test_a_value_that_cannot_train_is_refused_naming_its_flag(flags, message):
    with pytest.raises(UsageError, match=f"^{message}$"):
        train_command.config_from_args(parse("--preset", "tiny", *flags))


def test_fine_tuning_keeps_the_models_architecture_and_lowers_the_rate(tmp_path):
    run = RunDirectory(tmp_path)
    saved = TrainingConfig.from_preset("tiny", hidden_dim=64, joint_vocabulary=False, target_language="es")
    model = dict(saved.model_options(), vocabulary_size=504, source_vocabulary_size=496)
    (tmp_path / "config.json").write_text(json.dumps({
        "format_version": 1, "settings": saved.to_dict(), "model": model, "tokenizer": {}}))
    config = TrainingConfig.from_preset("small", learning_rate=1e-4).fine_tuned_from(str(tmp_path),
                                                                                      given={"learning_rate"})
    assert config.model_options() == saved.model_options() and config.vocabulary_size == 504
    assert config.init == run.path and not config.joint_vocabulary and config.target_language == "es"
    assert config.learning_rate == 1e-4 and config.warmup_steps == FINE_TUNING["warmup_steps"]


def test_to_dict_is_the_flat_settings_and_from_dict_reads_it_back():
    config = TrainingConfig.from_preset("tiny", data=["a.txt", "b.txt"], ema_momentum=0.999)
    settings = json.loads(json.dumps(config.to_dict()))
    assert list(settings)[:len(PRESETS["tiny"])] == list(PRESETS["tiny"])
    assert settings["preset"] == "tiny" and settings["ema_momentum"] == 0.999
    assert "init" not in settings and "teacher" not in settings  # written only when set
    assert TrainingConfig.from_dict(settings) == config


def test_a_config_from_before_the_newer_settings_loads():
    older = dict(PRESETS["small"], preset="small", data=None, seed=0, overlong="truncate", skip_bad_lines=False,
                 joint_vocabulary=True, eval_batch_size=64, learning_rate=1)  # an int where a float goes
    for key in ("subword_alpha", "bleu_subset", "patience"):
        del older[key]
    config = TrainingConfig.from_dict(older)
    assert (config.subword_alpha, config.bleu_subset, config.patience) == (0.0, 0, 0)
    assert config.task == "translation" and config.learning_rate == 1.0 and isinstance(config.learning_rate, float)


@pytest.mark.parametrize("change, message", [
    ({"hidden_dim": None}, "lacks the settings hidden_dim"),
    ({"colour": "blue"}, "does not know: colour"),
    ({"epochs": "3"}, "the setting epochs must be int. Received: '3'"),
    ({"jit_compile": 1}, "the setting jit_compile must be bool"),
    ({"data": [1]}, "the setting data must be str or a list of str or null"),
    ({"num_heads": 3}, "cannot train: --num-heads must divide --hidden-dim"),
])
def test_a_damaged_config_names_the_file(tmp_path, change, message):
    settings = TrainingConfig.from_preset("tiny").to_dict()
    for key, value in change.items():
        if value is None:
            del settings[key]
        else:
            settings[key] = value
    (tmp_path / "config.json").write_text(json.dumps({
        "format_version": 1, "settings": settings, "model": {}, "tokenizer": {}}))
    with pytest.raises(RunDirectoryError, match=f"^{tmp_path / 'config.json'}.*{message}"):
        RunDirectory(tmp_path).training_config


def test_a_race_run_saved_before_the_newer_settings_loads():
    # What an older `bench/quality_race.py --save` wrote: no task, preset, overlong, skip_bad_lines
    # or eval_batch_size, and ema_momentum written even when unset.
    race = dict(PRESETS["small"], time_budget_minutes=30, joint_vocabulary=True, seed=0, epochs=UNBOUNDED_EPOCHS,
                ema_momentum=None, data="../shared/data/spa-eng", mixed_precision="mixed_bfloat16")
    config = TrainingConfig.from_dict(json.loads(json.dumps(race)))
    assert (config.overlong, config.skip_bad_lines, config.eval_batch_size) == ("truncate", False, 64)
    assert config.time_budget_minutes == 30.0 and config.preset is None and config.ema_momentum is None


def test_an_imported_run_reads_back(tmp_path):
    from kseq.marian import import_marian

    fixture = pathlib.Path(__file__).resolve().parent / "fixtures" / "marian" / "tiny"
    run = import_marian(str(fixture), tmp_path / "imported", max_length=16, log=lambda _: None)
    config = RunDirectory(run.path).training_config
    assert config.imported_from == str(fixture) and config.preset is None and not config.joint_vocabulary
    assert config.max_source_length == config.max_target_length == 16
    assert config.model_options() == {key: RunDirectory(run.path).model_config[key] for key in config.model_options()}


def test_a_distilled_students_settings_read_back():
    student = TrainingConfig.from_preset("tiny", data="student/distilled").replace(
        teacher="/runs/teacher", teacher_beam_width=4, with_references=True)
    settings = json.loads(json.dumps(student.to_dict()))
    assert (settings["teacher"], settings["teacher_beam_width"], settings["with_references"]) == (
        "/runs/teacher", 4, True)
    assert TrainingConfig.from_dict(settings) == student


def test_fine_tuning_reads_the_model_of_a_run_whose_settings_are_foreign(tmp_path):
    model = dict(TrainingConfig.from_preset("tiny").model_options(), vocabulary_size=504)
    (tmp_path / "config.json").write_text(json.dumps({
        "format_version": 1, "settings": {"written_by": "another tool", "source_language": "en"},
        "model": model, "tokenizer": {}}))
    config = TrainingConfig.from_preset("small").fine_tuned_from(str(tmp_path))
    assert config.vocabulary_size == 504 and config.joint_vocabulary and config.source_language == "en"


@pytest.mark.parametrize("flags, dropped", [
    (("--num-heads", "3"), "--num-heads"),
    (("--vocabulary-size", "100"), "--vocabulary-size"),
    (("--max-target-length", "32", "--hidden-dim", "64"), "--hidden-dim"),
])
def test_init_refuses_a_flag_that_would_change_the_models_architecture(flags, dropped):
    with pytest.raises(UsageError, match=f"^--init keeps the model's architecture: drop {dropped}.$"):
        train_command.check_arguments(parse("--init", "runs/imported", *flags))
    train_command.check_arguments(parse("--init", "runs/imported", "--epochs", "3", "--learning-rate", "1e-4"))


def test_config_from_args_downloads_a_public_corpus_named_by_data(monkeypatch):
    monkeypatch.setattr(public_corpora, "fetch_corpus", lambda name: f"cache/{name}")
    assert train_command.config_from_args(parse("--preset", "tiny", "--data", "spa-eng")).data == "cache/spa-eng"
    assert train_command.config_from_args(parse("--preset", "tiny", "--data", "a.tsv")).data == ["a.tsv"]
