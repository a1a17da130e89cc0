import json

import pytest

from kseq.backends import load
from kseq.commands import main
from kseq.data import read_tsv

pytestmark = pytest.mark.slow  # trains students in this process


@pytest.fixture(scope="session")
def pairs_file(tmp_path_factory):
    from kseq.builtin_corpus import builtin_pairs

    path = tmp_path_factory.mktemp("distill") / "pairs.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in builtin_pairs()[:250]), encoding="utf-8")
    return path


def test_the_student_learns_the_teachers_beam_translations(tiny_run, pairs_file, tmp_path):
    teacher, _ = tiny_run
    out = tmp_path / "student"
    main(["distill", "--teacher", str(teacher), "--beam-width", "2", "--data", str(pairs_file), "--preset", "tiny",
          "--max-target-length", "6", "--epochs", "1", "--out", str(out), "--no-export"])
    distilled = read_tsv(out / "distilled" / "train.tsv")
    sources = [source for source, _ in distilled]
    # The teacher writes no more than the student can learn: its max_target_length.
    translations, ids = load(str(teacher), "keras", beam_width=2, max_length=6).translate(sources)
    _, uncapped_ids = load(str(teacher), "keras", beam_width=2).translate(sources)
    assert ids.shape[1] == 6 and (uncapped_ids[:, 6:] != 0).any()
    # The TSV holds each translation on one line, white space folded.
    assert [target for _, target in distilled] == [" ".join(t.split()) for t in translations]
    # The real references stay for validation and test: the student is scored against them.
    original = read_tsv(pairs_file)
    assert set(read_tsv(out / "distilled" / "test.tsv")) <= set(original)
    settings = json.loads((out / "config.json").read_text())["settings"]
    assert settings["teacher"] == str(teacher) and settings["teacher_beam_width"] == 2
    assert json.loads((out / "metrics.json").read_text())["keras"]["sentences"] > 0


def test_with_references_trains_on_both(tiny_run, pairs_file, tmp_path):
    teacher, _ = tiny_run
    out = tmp_path / "student"
    main(["distill", "--teacher", str(teacher), "--beam-width", "1", "--with-references", "--data", str(pairs_file),
          "--preset", "tiny", "--epochs", "1", "--out", str(out), "--no-export"])
    distilled = read_tsv(out / "distilled" / "train.tsv")
    held_out = set(read_tsv(out / "distilled" / "test.tsv")) | set(read_tsv(out / "distilled" / "valid.tsv"))
    originals = [pair for pair in read_tsv(pairs_file) if pair not in held_out]
    assert set(originals) <= set(distilled) and len(distilled) > len(originals)


def test_a_teacher_that_is_not_a_run_is_named(pairs_file, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["distill", "--teacher", str(tmp_path), "--data", str(pairs_file), "--out", str(tmp_path / "student")])
    assert exit.value.code == 1 and "config.json not found" in capsys.readouterr().err
