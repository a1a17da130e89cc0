import argparse
import json

import pytest

from kseq import device
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
