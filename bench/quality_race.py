"""Quality at equal training budget: kseq vs the keras.io KerasNLP recipe.

    python bench/quality_race.py [--data spa-eng] [--minutes 30] [--every 5]
        [--systems kseq,peer] [--preset small] [--dropout 0.1 ...] [--out JSON]

Each system trains for `--minutes` of `fit` time on this machine, one after
the other (tokenizer learning and the evaluations below are not counted).
Every `--every` minutes the clock stops and the model translates the first
`--probe` test lines, for the curve of BLEU against training time; at the end
it translates every test source. BLEU and chrF by sacrebleu (defaults,
multi-reference). The peer writes lowercase, so kseq is scored both cased and
lowercased, the peer lowercased (hypotheses and references). Writes
`bench/quality_race.json` and `bench/quality_race.png`. kseq trains the
`--preset`, changed by the same override flags as `kseq train`'s, with
`kseq train`'s own job (`kseq.training.train`: its validation and checkpoint
choice count in the budget), and is scored as it ships: the run directory's
model.keras, in float32.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import keras

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.peers import keras_io_translation as peer  # noqa: E402
from kseq import device  # noqa: E402
from kseq.backends import KerasTranslator  # noqa: E402
from kseq.batch_translation import translate_batches  # noqa: E402
from kseq.commands.train import add_preset_arguments  # noqa: E402
from kseq.data import load_corpus  # noqa: E402
from kseq.evaluation import group_references, score  # noqa: E402
from kseq.public_corpora import resolve_data  # noqa: E402
from kseq.run_directory import RunDirectory  # noqa: E402
from kseq.time_budget import TimeBudget  # noqa: E402
from kseq.training import train  # noqa: E402
from kseq.training_config import PRESET_FIELDS, TrainingConfig  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


class ProbedBudget(TimeBudget):
    """A `TimeBudget` that scores the model on the probe set every `every` minutes."""

    def __init__(self, minutes, every, probe, learning_rate=None, warmup_steps=0, last=None):
        super().__init__(minutes, learning_rate, warmup_steps)
        self.every = 60.0 * every
        self.probe = probe  # model -> scores
        self.last = last  # model -> scores, once the budget is spent, before fit() ends
        self.curve = []
        self.last_scores = None

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.elapsed() >= self.every * (len(self.curve) + 1) or self.exhausted:
            self.pause()
            self.curve.append({"minutes": round(self.elapsed() / 60, 2), **self.probe(self.model)})
            print(f"  {self.curve[-1]}", flush=True)
            if self.exhausted and self.last:
                self.last_scores = self.last(self.model)
            self.resume()


def scores(translator, sources, references, lowercase_only=False):
    hypotheses, _ = translate_batches(translator, sources, batch_size=64)
    lower = score([h.lower() for h in hypotheses], [[r.lower() for r in refs] for refs in references])
    result = {"lowercased": lower}
    if not lowercase_only:
        result["cased"] = score(hypotheses, references)
    return result


def train_kseq(config, every, probe_set, test_set, save_dir):
    """Trains with `kseq.training.train` into a run directory in `save_dir`, probing every
    `every` minutes, and loads the run back, as it ships (float32).

    Returns (translator, curve, steps, test scores of the raw weights when averaging them)."""
    run = RunDirectory.create(save_dir)  # for `kseq export` and bench/decoding_speed.py
    trained = {}

    def translator(model):
        """One translator over the model in training, for every probe: compiled once per shape."""
        if "translator" not in trained:
            trained["translator"] = KerasTranslator(model, *run.vocabularies())
        return trained["translator"]

    # With weight averaging, fit() swaps the average in as it ends: score the raw weights before.
    last = (lambda model: scores(translator(model), *test_set)) if config.ema_momentum else None
    budget = ProbedBudget(config.time_budget_minutes, every, lambda model: scores(translator(model), *probe_set),
                          config.learning_rate, config.warmup_steps, last)
    train(config, run, budget=budget)
    shipped = KerasTranslator(run.load_model(), *run.vocabularies())  # float32, whatever trained
    return shipped, budget.curve, budget.steps, budget.last_scores


def train_peer(corpus, minutes, every, probe_set):
    translator = peer.PeerTranslator.build(corpus.train)
    budget = ProbedBudget(minutes, every, lambda model: scores(translator, *probe_set, lowercase_only=True))
    print(f"peer: {translator.model.count_params():,} parameters", flush=True)
    translator.fit(corpus.train, [budget])
    return translator, budget.curve, translator.model.optimizer.iterations.numpy()


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name, result in results.items():
        curve = result["curve"]
        axis.plot([p["minutes"] for p in curve], [p["lowercased"]["bleu"] for p in curve],
                  marker="o", label=name)
    axis.set_xlabel("training minutes (2-core CPU)")
    axis.set_ylabel("BLEU, lowercased (probe set)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="spa-eng", help="A corpus directory, or a public corpus name (`kseq data`).")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--every", type=float, default=5, help="Minutes between probe scores.")
    parser.add_argument("--probe", type=int, default=500, help="Test lines in the probe set.")
    parser.add_argument("--systems", default="kseq,peer", help="Which to train: kseq, peer or both.")
    parser.add_argument("--ema", type=float, metavar="MOMENTUM",
                        help="kseq: average the weights (optimizer EMA) and score both.")
    add_preset_arguments(parser)
    parser.add_argument("--mixed-precision", choices=("auto", "float32", "mixed_bfloat16"), default="auto",
                        help="kseq's training compute; auto: as `kseq train` chooses for this device. "
                             "The test split is scored on the saved float32 model either way.")
    parser.add_argument("--save", metavar="RUN_DIR",
                        help="Where kseq's run directory is written (default: a temporary one).")
    parser.add_argument("--out", default=os.path.join(HERE, "quality_race.json"))
    args = parser.parse_args(argv)

    args.data = resolve_data(args.data)
    keras.utils.set_random_seed(0)
    corpus = load_corpus([args.data])
    probe_set = group_references(corpus.test[: args.probe])
    test_set = group_references(corpus.test)
    overrides = {name: getattr(args, name) for name in PRESET_FIELDS if getattr(args, name) is not None}
    config = TrainingConfig.from_preset(args.preset, time_budget_minutes=args.minutes, seed=0,
                                        ema_momentum=args.ema, data=args.data)
    config = config.with_device_defaults(device.accelerator(), keras.backend.backend(),
                                         args.mixed_precision).replace(**overrides)

    results = {}
    started = time.time()
    systems = args.systems.split(",")
    if "kseq" in systems:
        with tempfile.TemporaryDirectory() as scratch:
            translator, curve, steps, raw = train_kseq(config, args.every, probe_set, test_set,
                                                       args.save or os.path.join(scratch, "run"))
            results[f"kseq ({args.preset})"] = {"curve": curve, "steps": int(steps),
                                                "test": scores(translator, *test_set)}
        if raw:
            results[f"kseq ({args.preset})"]["test_without_averaging"] = raw
        print(results, flush=True)
    if "peer" in systems:
        translator, curve, steps = train_peer(corpus, args.minutes, args.every, probe_set)
        results["keras.io peer"] = {"curve": curve, "steps": int(steps),
                                    "test": scores(translator, *test_set, lowercase_only=True)}

    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Keras {keras.__version__} on {keras.backend.backend()}"
    report = {"machine": machine, "minutes": args.minutes, "test_sources": len(test_set[0]),
              "probe_sources": len(probe_set[0]), "settings": config.to_dict(), "results": results,
              "wall_minutes": round((time.time() - started) / 60, 1)}
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)
    plot(results, os.path.splitext(args.out)[0] + ".png")

    print(f"\nMachine: {machine}. {args.minutes:g} minutes of training each, "
          f"{len(test_set[0])} test sources.")
    print("| system | steps | BLEU cased | BLEU lowercased | chrF lowercased |\n| --- | ---: | ---: | ---: | ---: |")
    for name, result in results.items():
        test = result["test"]
        cased = f"{test['cased']['bleu']:.2f}" if "cased" in test else "–"
        print(f"| {name} | {result['steps']:,} | {cased} | {test['lowercased']['bleu']:.2f} "
              f"| {test['lowercased']['chrf']:.2f} |")


if __name__ == "__main__":
    main()
