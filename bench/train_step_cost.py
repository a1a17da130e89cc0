"""What one train step costs, read from XLA's compiled step on a CPU: a proxy to track before and after a change.

    python bench/train_step_cost.py [--preset base] [--rows 512] [--length 32] [--vocabulary-size 16000]
        [--mixed-precision mixed_bfloat16] [--json OUT.json]

It builds the preset's model and optimizer as `train.py` does, on Keras' JAX
backend, lowers `model.train_step` for one batch shape, compiles it for this
machine's CPU, and prints:
- FLOPs (`cost_analysis`), against 6 x parameters x target positions;
- bytes accessed (`cost_analysis`), and the seconds that traffic alone takes
  at a GPU's memory bandwidth (`--bandwidth-tbs`, 4.8 for an H200);
- how many float32 tensors as large as (rows, length, vocabulary) the
  optimized step writes to memory (results outside fusions): logits-sized
  buffers, the loss's and the metric's.

XLA's CPU backend computes bfloat16 elementwise ops in float32, so bytes are
overstated against a GPU's; the counts and the change between two commits
are what this is for. It does not replace a profile on the GPU
(`bench/gpu_check.sh`).
"""

import os

os.environ["KERAS_BACKEND"] = "jax"

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from kseq.batching import model_inputs  # noqa: E402
from kseq.presets import PRESETS  # noqa: E402
from kseq.recipe import build_model, compile_model  # noqa: E402
from kseq.training_config import TrainingConfig  # noqa: E402


def train_step_cost(config, rows, length, vocabulary_size):
    """Figures of the compiled train step for a (rows, length) batch of a `TrainingConfig`'s model."""
    model = build_model(config, vocabulary_size)
    compile_model(model, config, steps_per_epoch=100)
    random = np.random.default_rng(0)
    ids = random.integers(4, vocabulary_size, size=(rows, length - 1), dtype=np.int32)
    batch = model_inputs(ids, ids)
    model.make_train_function()  # builds the metrics' variables as fit() does
    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in model.optimizer.variables],
        [v.value for v in model.metrics_variables],
    )
    compiled = jax.jit(model.train_step).lower(state, batch).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    logits_sized = _materialized(compiled.as_text(), rf"f32\[({rows},{length}|{rows * length}),{vocabulary_size}\]")
    parameters = model.count_params()
    return {
        "rows": rows, "length": length, "vocabulary_size": vocabulary_size, "parameters": parameters,
        "mixed_precision": config.mixed_precision or "float32",
        "tflop": cost.get("flops", 0) / 1e12,
        "tflop_6nd": 6 * parameters * rows * length / 1e12,
        "gb_accessed": cost.get("bytes accessed", 0) / 1e9,
        "float32_logits_sized_results": logits_sized,
    }


def _materialized(hlo, shape):
    """How many results of `shape` (a regex) the step writes to memory: those outside fusions."""
    count, fused = 0, False
    for line in hlo.splitlines():
        if line and not line.startswith(" "):  # a computation's header
            fused = "fused" in line.split("(")[0] or "wrapped" in line.split("(")[0]
        elif not fused and re.search(rf"= {shape}[{{ ]", line):
            count += 1
    return count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="base")
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--length", type=int, default=32, help="Positions per row.")
    parser.add_argument("--vocabulary-size", type=int, default=16000)
    parser.add_argument("--mixed-precision", default="mixed_bfloat16")
    parser.add_argument("--bandwidth-tbs", type=float, default=4.8, help="A GPU's memory bandwidth, TB/s.")
    parser.add_argument("--json", help="Also write the figures here.")
    args = parser.parse_args(argv)
    config = TrainingConfig.from_preset(args.preset, mixed_precision=args.mixed_precision)
    figures = train_step_cost(config, args.rows, args.length, args.vocabulary_size)
    figures["memory_seconds_at_bandwidth"] = figures["gb_accessed"] / (args.bandwidth_tbs * 1e3)
    print(f"`{args.preset}`, {figures['parameters']:,} parameters, {figures['mixed_precision']}, "
          f"batch ({args.rows}, {args.length}), vocabulary {args.vocabulary_size}, "
          f"jax {jax.__version__} on {jax.devices()[0].device_kind}:")
    print("| figure | value |\n| --- | ---: |")
    print(f"| TFLOP (XLA cost analysis) | {figures['tflop']:.2f} |")
    print(f"| TFLOP, 6 x parameters x positions | {figures['tflop_6nd']:.2f} |")
    print(f"| GB accessed | {figures['gb_accessed']:.1f} |")
    milliseconds = 1e3 * figures["memory_seconds_at_bandwidth"]
    print(f"| ms for that traffic at {args.bandwidth_tbs:g} TB/s | {milliseconds:.1f} |")
    print(f"| float32 results of (rows, length, vocabulary) | {figures['float32_logits_sized_results']} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
