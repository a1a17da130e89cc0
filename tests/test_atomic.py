import errno

import pytest

from kseq.atomic import atomic_directory, atomic_file, write_error
from kseq.errors import NoSpaceError, WriteError


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


def test_a_failed_file_write_keeps_the_previous_file_and_leaves_no_partial_one(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")
    with pytest.raises(OSError):
        with atomic_file(target) as temporary:
            assert temporary.endswith(".keras")
            with open(temporary, "w") as f:
                f.write("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"] and target.read_text() == "old"


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   OSError("Can't write data (file write failed: No space left on device)")])
def test_a_full_disk_is_a_no_space_error(tmp_path, error):
    result = write_error(error, str(tmp_path), "Free some space.")
    assert isinstance(result, NoSpaceError)
    assert str(result).startswith(f"No space left to write {tmp_path}: ") and "MB are free there. Free" in str(result)


def test_another_failed_write_is_a_write_error_naming_the_reason(tmp_path):
    result = write_error(PermissionError(errno.EACCES, "Permission denied"), str(tmp_path), "Fix it.")
    assert type(result) is WriteError
    assert str(result).startswith(f"Cannot write to {tmp_path}: Permission denied (")
    assert str(result).endswith("MB are free there). Fix it.")
