import json

from export.parity import check_parity
from kseq.commands import main
from kseq.data import load_corpus
from kseq.evaluation import group_references


def test_every_export_decodes_the_test_split_like_keras(tiny_export):
    sources, _ = group_references(load_corpus(None).test)
    report = check_parity(str(tiny_export), sources)
    assert report["sentences"] == len(sources) > 900
    for backend in ("saved_model", "tflite", "tflite_ids"):
        assert report[backend]["same_ids"] == 100.0, report[backend]
        assert report[backend]["same_text"] == 100.0, report[backend]


def test_parity_command_prints_json(capsys, tiny_export, tmp_path):
    data = tmp_path / "few.tsv"
    data.write_text("Ten books.\tDiez libros.\nIt is one o'clock.\tEs la una.\n", encoding="utf-8")
    main(["parity", str(tiny_export), "--data", str(data)])
    report = json.loads(capsys.readouterr().out)
    assert report["sentences"] == 2 and report["tflite_ids"]["same_ids"] == 100.0
