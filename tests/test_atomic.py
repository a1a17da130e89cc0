import pytest

from export.atomic import atomic_directory


def test_success_renames_into_place(tmp_path):
    target = tmp_path / "tflite"
    with atomic_directory(target) as temporary:
        (tmp_path / temporary / "model.tflite").write_text("new")
    assert (target / "model.tflite").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["tflite"]


def test_failure_half_way_keeps_the_previous_artifact(tmp_path):
    target = tmp_path / "tflite"
    target.mkdir()
    (target / "model.tflite").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_directory(target, overwrite=True) as temporary:
            (tmp_path / temporary / "model.tflite").write_text("half")
            raise RuntimeError("converter crashed")
    assert (target / "model.tflite").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["tflite"]


def test_existing_directory_needs_overwrite(tmp_path):
    (tmp_path / "tflite").mkdir()
    with pytest.raises(FileExistsError, match="--overwrite"):
        with atomic_directory(tmp_path / "tflite"):
            pass
    with atomic_directory(tmp_path / "tflite", overwrite=True) as temporary:
        (tmp_path / temporary / "x").write_text("replaced")
    assert (tmp_path / "tflite" / "x").read_text() == "replaced"


def test_the_directory_gets_the_run_directorys_mode_not_mkdtemps(tmp_path):
    """A model server running as another user must read the export (mkdtemp alone gives 0700)."""
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o755)
    run_dir.chmod(0o755)
    with atomic_directory(run_dir / "tflite"):
        pass
    assert (run_dir / "tflite").stat().st_mode & 0o777 == 0o755
