"""Pictures: training curves and cross-attention maps (matplotlib, no display needed)."""

import csv
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def plot_training_curves(history_csv, out_png):
    """Loss and accuracy per epoch, train vs validation, and the validation BLEU when the
    run logged it (`val_bleu`), from Keras' CSVLogger file."""
    with open(history_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{history_csv} has no epochs to plot.")
    epochs = [int(row["epoch"]) + 1 for row in rows]
    metrics = ("loss", "accuracy", "bleu") if "val_bleu" in rows[0] else ("loss", "accuracy")
    figure, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 4))
    for axis, metric in zip(axes, metrics):
        for prefix, label in (("", "train"), ("val_", "validation")):
            if f"{prefix}{metric}" in rows[0]:
                axis.plot(epochs, [float(row[f"{prefix}{metric}"]) for row in rows], "o-", label=label)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_ylabel({"accuracy": "token accuracy", "loss": "loss (label-smoothed)",
                         "bleu": "greedy BLEU, validation subset"}[metric])
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    figure.savefig(out_png, dpi=120)
    plt.close(figure)


def plot_attention(weights, source_pieces, output_pieces, out_png, title=""):
    """A heatmap of attention weights (output pieces x source pieces)."""
    height = max(3, 0.35 * len(output_pieces) + 1.5)
    width = max(4, 0.45 * len(source_pieces) + 2)
    figure, axis = plt.subplots(figsize=(width, height))
    image = axis.imshow(weights, cmap="viridis", aspect="auto", vmin=0)
    axis.set_xticks(range(len(source_pieces)), source_pieces, rotation=60, ha="right")
    axis.set_yticks(range(len(output_pieces)), output_pieces)
    axis.set_xlabel("source pieces")
    axis.set_ylabel("output pieces")
    if title:
        axis.set_title(textwrap.fill(title, width=int(8 * width)), fontsize=9)
    figure.colorbar(image, ax=axis, label="attention")
    figure.tight_layout()
    figure.savefig(out_png, dpi=120)
    plt.close(figure)
