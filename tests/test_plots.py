import numpy as np
import pytest

from kseq.plots import plot_attention, plot_training_curves

PNG = b"\x89PNG\r\n\x1a\n"


def test_training_curves(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,3.0,0.6,2.5\n1,0.7,2.0,0.72,1.9\n")
    plot_training_curves(history, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG


def test_training_curves_add_a_panel_for_the_validation_bleu(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,accuracy,loss,val_accuracy,val_bleu,val_loss\n0,0.5,3.0,0.6,10.0,2.5\n"
                       "1,0.7,2.0,0.72,14.5,1.9\n")
    plot_training_curves(history, tmp_path / "curves.png")
    header = (tmp_path / "curves.png").read_bytes()
    assert header[:8] == PNG and int.from_bytes(header[16:20], "big") == 3 * 5 * 120  # three panels wide


def test_empty_history_is_refused(tmp_path):
    history = tmp_path / "history.csv"
    history.write_text("epoch,loss\n")
    with pytest.raises(ValueError, match="no epochs"):
        plot_training_curves(history, tmp_path / "curves.png")


def test_attention_heatmap(tmp_path):
    weights = np.random.default_rng(0).dirichlet(np.ones(4), size=3)
    plot_attention(weights, ["▁Ten", "▁book", "s", "</s>"], ["▁Diez", "▁libros", "</s>"],
                   tmp_path / "a.png", title="Ten books → Diez libros")
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG
