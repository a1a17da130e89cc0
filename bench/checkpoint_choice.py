"""Which epoch should model.keras hold? The best validation BLEU, the best validation loss, or the last.

    python bench/checkpoint_choice.py --data spa-eng --time-budget 10 \
        [--train-pairs 25000] [--bleu-subset 500] [--average 3] [--json OUT.json] [any train.py flag]

One training run (`kseq.training.train`, no export) scores greedy BLEU on the
first `--bleu-subset` validation sources after every epoch, keeps the best
epoch in model.keras and every epoch's weights beside it. The epoch with the
lowest validation loss, the last epoch and the mean of the last `--average`
epochs' weights (checkpoint averaging) are then scored on the whole test split
as model.keras is (greedy, cased, every reference). `--train-pairs N` trains
on N training pairs drawn at random (seed 0; the valid and test splits stay
whole): a smaller corpus, which over-fits sooner.
"""

import argparse
import csv
import datetime
import os
import platform
import random
import sys
import tempfile

import keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kseq.backends import KerasTranslator  # noqa: E402
from kseq.commands import train  # noqa: E402
from kseq.data import load_corpus, read_tsv  # noqa: E402
from kseq.distillation import write_tsv  # noqa: E402
from kseq.evaluation import evaluate  # noqa: E402
from kseq.run_directory import RunDirectory, write_json  # noqa: E402
from kseq.training import train as run_training  # noqa: E402


def subset(data, pairs, directory, seed=0):
    """A corpus directory with `pairs` training pairs of `data`, drawn at random in their order
    (spa-eng's file runs from short to long sentences), and its whole valid and test splits."""
    os.makedirs(directory, exist_ok=True)
    train = read_tsv(os.path.join(data, "train.tsv"))
    kept = sorted(random.Random(seed).sample(range(len(train)), min(pairs, len(train))))
    write_tsv(os.path.join(directory, "train.tsv"), [train[i] for i in kept])
    for split in ("valid", "test"):
        write_tsv(os.path.join(directory, f"{split}.tsv"), read_tsv(os.path.join(data, f"{split}.tsv")))
    return directory


def best_epochs(history_file):
    """(epoch of the lowest val_loss, of the highest val_bleu, last epoch, rows), epochs from 1."""
    with open(history_file, newline="") as f:
        rows = [{k: float(v) for k, v in row.items() if v} for row in csv.DictReader(f)]
    by_loss = min(rows, key=lambda r: r["val_loss"])
    by_bleu = max(rows, key=lambda r: (r["val_bleu"], -r["val_loss"]))
    return int(by_loss["epoch"]) + 1, int(by_bleu["epoch"]) + 1, int(rows[-1]["epoch"]) + 1, rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-pairs", type=int, help="Train on N training pairs drawn at random (seed 0).")
    parser.add_argument("--average", type=int, default=3, help="Also score the mean of the last N epochs' weights.")
    parser.add_argument("--json", help="Also write the figures here.")
    train.add_arguments(parser.add_argument_group("training (as `kseq train`)"))
    args = parser.parse_args(argv)
    args.argv = []
    train.check_arguments(args)
    out = args.out or tempfile.mkdtemp(prefix="kseq-checkpoint-choice-")
    if args.train_pairs:
        if not args.data or not os.path.isdir(args.data[0]):
            parser.error("--train-pairs needs --data DIR (with train.tsv, valid.tsv and test.tsv)")
        args.data = [subset(args.data[0], args.train_pairs, out + "-data")]
    config = train.config_from_args(args)
    config = config.replace(bleu_subset=config.bleu_subset or 500)
    run = RunDirectory.create(out)
    load_average = os.getloadavg()
    epoch_weights = os.path.join(run.path, "epochs", "{epoch}.weights.h5")
    metrics = run_training(config, run, callbacks=[
        keras.callbacks.ModelCheckpoint(epoch_weights, save_weights_only=True)])

    loss_epoch, bleu_epoch, last_epoch, rows = best_epochs(run.history_path)
    corpus = load_corpus(config.data)
    model = run.load_model()
    translator = KerasTranslator(model, *run.vocabularies(), batch_size=config.eval_batch_size)

    def weights(epoch):
        model.load_weights(epoch_weights.format(epoch=epoch))
        return model.get_weights()

    def test_scores(values):
        model.set_weights(values)
        return evaluate(translator, corpus.test, config.eval_batch_size, verbose=False)[0]

    results = {"best val_bleu (model.keras)": (bleu_epoch, metrics["keras"])}
    for name, epoch in (("best val_loss", loss_epoch), ("last epoch", last_epoch)):
        same = next((scores for e, scores in results.values() if e == epoch), None)
        results[name] = (epoch, same or test_scores(weights(epoch)))
    if last_epoch >= args.average:
        # Checkpoint averaging: the mean of the last epochs' weights.
        epochs = range(last_epoch - args.average + 1, last_epoch + 1)
        average = [sum(values) / args.average for values in zip(*(weights(e) for e in epochs))]
        results[f"average of the last {args.average} epochs"] = (f"{epochs[0]}-{epochs[-1]}", test_scores(average))

    machine = (f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load_average[0]:.1f} at the start "
               f"and {os.getloadavg()[0]:.1f} at the end, {datetime.date.today()}")
    print(f"\nMachine: {machine}. Corpus: {len(corpus.train)} training pairs ({config.data}); "
          f"preset {config.preset}, dropout {config.dropout:g}, "
          f"{config.time_budget_minutes or '-'} minutes; validation BLEU on {config.bleu_subset} "
          "sources after each epoch.\n")
    print("| epoch | val_loss | val BLEU | train accuracy | val accuracy |\n| ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {int(row['epoch']) + 1} | {row['val_loss']:.3f} | {row['val_bleu']:.2f} | "
              f"{row.get('accuracy', 0):.3f} | {row.get('val_accuracy', 0):.3f} |")
    print(f"\n| model.keras chosen by | epoch | test BLEU ({metrics['keras']['sentences']} sources) | chrF |"
          "\n| --- | ---: | ---: | ---: |")
    for name, (epoch, scores) in results.items():
        print(f"| {name} | {epoch} | {scores['bleu']:.2f} | {scores['chrf']:.2f} |")
    if args.json:
        write_json(args.json, {"machine": machine, "settings": config.to_dict(), "history": rows,
                               "test": {name: {"epoch": e, **s} for name, (e, s) in results.items()}})


if __name__ == "__main__":
    main()
