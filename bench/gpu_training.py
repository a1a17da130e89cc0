"""Training speed on an accelerator: tokens/s, model FLOPs utilization, compile seconds, BLEU against time.

    KERAS_BACKEND=jax python bench/gpu_training.py --data spa-eng --preset base \
        [--epochs 20] [--probe 500] [--peak-tflops 989] [--profile DIR] [--out RUN_DIR] [any train.py flag]

It runs `train.py`'s own job (`kseq.training.train`, no export) and prints:
- target tokens/s (pieces and end ids that count in the loss), per epoch and
  the median of the epochs after the first (which compiles);
- model FLOPs utilization: 6 x parameters x target tokens/s over the device's
  peak (the card and the peak used are printed; pass --peak-tflops for a card
  not in `PEAK_TFLOPS`, e.g. a CPU);
- seconds spent compiling, wall-clock and per function (JAX's own log of its
  compilations; other backends: not measured);
- BLEU of greedy decoding on the first `--probe` test sources after each epoch,
  against wall-clock seconds since this process started, and the whole test
  split's BLEU at the end (from the run's metrics.json).
"""

import time

STARTED = time.perf_counter()  # before the heavy imports: the wall clock counts them

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kseq import device  # noqa: E402
from kseq.backends import KerasTranslator  # noqa: E402
from kseq.batch_translation import translate_batches  # noqa: E402
from kseq.commands import train  # noqa: E402
from kseq.data import load_corpus  # noqa: E402
from kseq.evaluation import group_references, score  # noqa: E402
from kseq.run_directory import RunDirectory, write_json  # noqa: E402
from kseq.training import train as run_training  # noqa: E402

# Dense bf16 peaks, TFLOP/s (vendor data sheets; SXM parts for H100/H200).
PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L4": 121.0, "A10": 125.0, "V100": 125.0}


class Probe(keras.callbacks.Callback):
    """After each epoch: BLEU on the probe sources against wall-clock seconds since the process began."""

    def __init__(self, run, pairs, batch_size):
        super().__init__()
        self.run = run
        self.sources, self.references = group_references(pairs)
        self.batch_size = batch_size
        self.translator = None  # one decoder for every epoch: compiled once per shape
        self.curve = []

    def on_epoch_end(self, epoch, logs=None):
        if self.translator is None:
            self.translator = KerasTranslator(self.model, *self.run.vocabularies(), batch_size=self.batch_size)
        hypotheses, _ = translate_batches(self.translator, self.sources, self.batch_size)
        bleu = score(hypotheses, self.references)["bleu"]
        self.curve.append({"epoch": epoch + 1, "seconds": round(time.perf_counter() - STARTED, 1),
                           "bleu": bleu, "tokens_per_second": (logs or {}).get("target_tokens_per_second")})
        print(f"  epoch {epoch + 1}: probe BLEU {bleu:.2f} at {self.curve[-1]['seconds']:.0f} s", flush=True)


class Profile(keras.callbacks.Callback):
    """A `jax.profiler` trace of a few steady steps (batches `first` to `last` of the second
    epoch) into `directory`, to read with xprof (`xprof --logdir DIRECTORY`) anywhere."""

    async_safe = True  # starts and stops a trace: needs no step's logs

    def __init__(self, directory, first=5, last=10):
        super().__init__()
        self.directory, self.first, self.last = directory, first, last
        self.epoch, self.tracing = 0, False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        import jax

        if self.epoch == 1 and batch == self.first:
            jax.profiler.start_trace(self.directory)
            self.tracing = True
        elif self.tracing and batch == self.last:
            jax.block_until_ready(self.model.trainable_variables[0].value)
            jax.profiler.stop_trace()
            self.tracing = False
            print(f"  profile of steps {self.first} to {self.last - 1} of epoch 2: {self.directory}", flush=True)

    def on_epoch_end(self, epoch, logs=None):
        if self.tracing:
            import jax

            jax.profiler.stop_trace()
            self.tracing = False


class CompileLog(logging.Handler):
    """JAX's compilations as they finish: (function, seconds, end time), from its own log line
    ("Finished XLA compilation of jit(f) in S sec", at DEBUG unless `jax_log_compiles`)."""

    PATTERN = re.compile(r"Finished XLA compilation of (\S+) in ([\d.]+) sec")

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.compilations = []
        logger = logging.getLogger("jax._src.dispatch")
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)

    def emit(self, record):
        match = self.PATTERN.search(record.getMessage())
        if match:
            self.compilations.append((match[1], float(match[2]), record.created))

    def per_function(self):
        """{function: [count, seconds]}, the longest first."""
        totals = {}
        for function, seconds, _ in self.compilations:
            count, total = totals.get(function, (0, 0.0))
            totals[function] = (count + 1, total + seconds)
        return {f: [c, round(t, 1)] for f, (c, t) in sorted(totals.items(), key=lambda item: -item[1][1])}

    def wall_seconds(self):
        """Seconds during which at least one compilation ran (they overlap when compiled in threads)."""
        total, reach = 0.0, 0.0
        for start, end in sorted((end - seconds, end) for _, seconds, end in self.compilations):
            total += max(0.0, end - max(start, reach))
            reach = max(reach, end)
        return round(total, 1)


def device_name():
    if keras.backend.backend() == "jax":
        import jax

        return jax.devices()[0].device_kind
    return device.accelerator()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", type=int, default=500, help="Test sources scored after each epoch.")
    parser.add_argument("--peak-tflops", type=float, help="The device's dense peak, for the utilization.")
    parser.add_argument("--json", help="Also write the figures here.")
    parser.add_argument("--profile", metavar="DIR", help="JAX only: a profile trace of steps 5 to 9 of the "
                        "second epoch into DIR.")
    train.add_arguments(parser.add_argument_group("training (as `kseq train`)"))
    train_args = args = parser.parse_args(argv)
    train_args.argv = []
    train.check_arguments(train_args)
    if train_args.compilation_cache:
        device.enable_compilation_cache(train_args.compilation_cache)
    config = train.config_from_args(train_args)
    run_dir = RunDirectory.create(train_args.out or tempfile.mkdtemp(prefix="kseq-gpu-bench-"))
    corpus = load_corpus(config.data)
    probe = Probe(run_dir, corpus.test[: args.probe], config.eval_batch_size)
    compiling = CompileLog() if keras.backend.backend() == "jax" else None

    profile = [Profile(args.profile)] if args.profile and keras.backend.backend() == "jax" else []
    metrics = run_training(config, run_dir, callbacks=[probe, *profile])

    name = device_name()
    peak = args.peak_tflops or next((v for k, v in PEAK_TFLOPS.items() if k in name), None)
    speeds = [point["tokens_per_second"] for point in probe.curve if point["tokens_per_second"]]
    steady = statistics.median(speeds[1:]) if len(speeds) > 1 else speeds[0]
    parameters = run_dir.load_model().count_params()
    utilization = 6 * parameters * steady / (peak * 1e12) if peak else None
    result = {
        "device": name, "backend": keras.backend.backend(), "preset": config.preset,
        "mixed_precision": config.mixed_precision or "float32",
        "tokens_per_batch": config.tokens_per_batch, "parameters": parameters,
        "target_tokens_per_second": steady, "peak_tflops": peak, "model_flops_utilization": utilization,
        "compile_seconds": compiling.wall_seconds() if compiling else None,
        "compile_seconds_per_function": compiling.per_function() if compiling else None,
        "test_bleu": metrics["keras"]["bleu"], "test_sources": metrics["keras"]["sentences"],
        "wall_seconds": round(time.perf_counter() - STARTED, 1), "curve": probe.curve,
    }
    print(f"\nDevice: {name} ({result['backend']}, {result['mixed_precision']}), preset {config.preset}, "
          f"{parameters:,} parameters, {config.tokens_per_batch} positions per batch.")
    print("| figure | value |\n| --- | ---: |")
    print(f"| target tokens/s (median of epochs after the first) | {steady:,.0f} |")
    print(f"| model FLOPs utilization (6 x parameters x tokens/s over {peak or '?'} TFLOP/s) | "
          + (f"{100 * utilization:.1f} % |" if utilization else "not measured (no peak known) |"))
    print("| seconds compiling (wall clock) | "
          + (f"{result['compile_seconds']:.1f} |" if compiling else "not measured on this backend |"))
    print(f"| test BLEU, whole split ({result['test_sources']} sources) | {result['test_bleu']:.2f} |")
    print(f"| wall seconds from process start, evaluation included | {result['wall_seconds']:.0f} |")
    if compiling:
        print("\n| compiled function | times | seconds (summed over threads) |\n| --- | ---: | ---: |")
        for function, (count, seconds) in result["compile_seconds_per_function"].items():
            print(f"| {function} | {count} | {seconds:.1f} |")
    print("\n| epoch | seconds since start | probe BLEU | target tokens/s |\n| ---: | ---: | ---: | ---: |")
    for point in probe.curve:
        print(f"| {point['epoch']} | {point['seconds']:.0f} | {point['bleu']:.2f} | {point['tokens_per_second'] or 0:,.0f} |")
    if args.json:
        write_json(args.json, result)


if __name__ == "__main__":
    main()
