#!/usr/bin/env bash
# The GPU training check in one call: a cold `base` run on JAX, its speed, compile time, BLEU
# against time and a profile trace of steady steps.
#
#   bash bench/gpu_check.sh DATA [OUT_DIR]   # DATA: a corpus directory (`kseq data spa-eng` fetches one); OUT_DIR: ./gpu-check
#
# Environment (all optional):
#   WHEELS=DIR      install DIR/*.whl first, offline, into a scratch site (a GPU image with JAX
#                   but without Keras: keras, keras-hub, keras-nlp, namex, optree, kagglehub,
#                   kagglesdk). Fetch them where pip reaches PyPI with:
#                   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#                     --platform manylinux2014_x86_64 -d DIR keras keras-hub keras-nlp namex optree kagglehub kagglesdk
#   PRESET=base     EPOCHS=20     LIMIT_S=420 (the run is stopped after that many seconds)
#   PYTHON=python3  the interpreter
#   EXTRA="..."     more train.py flags
#
# It writes to OUT_DIR: gpu_training.json (tokens/s, model FLOPs utilization, compile seconds
# wall-clock and per function, probe BLEU against seconds, test BLEU), run.log, dmon.log
# (`nvidia-smi dmon -s u`, the device's busy share each second), profile.xplane.pb and
# profile.trace.json.gz (steps 5 to 9 of the second epoch; `xprof --logdir DIR` reads the first),
# and top_ops.md / top_ops.json (`bench/profile_top_ops.py`: the ops by device time).
# The compilation cache starts empty: the figures are a cold start's. On a CPU, as a dry run:
#   PRESET=tiny EPOCHS=2 EXTRA="--peak-tflops 1" bash bench/gpu_check.sh DATA.tsv /tmp/check
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=${1:?usage: bash bench/gpu_check.sh DATA [OUT_DIR]}; OUT=${2:-gpu-check}
PRESET=${PRESET:-base}; EPOCHS=${EPOCHS:-20}; LIMIT_S=${LIMIT_S:-420}; PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)

if [ -n "${WHEELS:-}" ]; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target /tmp/kseq-site "$WHEELS"/*.whl || exit 1
  export PYTHONPATH=/tmp/kseq-site${PYTHONPATH:+:$PYTHONPATH}
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1

DMON=
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/device.txt"
  nvidia-smi dmon -s u > "$OUT/dmon.log" 2>&1 & DMON=$!
fi

CACHE=$(mktemp -d)  # cold: nothing compiled before
timeout "$LIMIT_S" "$PYTHON" bench/gpu_training.py --data "$DATA" --preset "$PRESET" --epochs "$EPOCHS" \
  --compilation-cache "$CACHE" --profile "$OUT/profile" --json "$OUT/gpu_training.json" \
  --out "$OUT/run" --no-export ${EXTRA:-} 2>&1 | tee "$OUT/run.log" | grep -v "^Compiling \|^Finished "
STATUS=${PIPESTATUS[0]}
[ -n "$DMON" ] && kill "$DMON" 2>/dev/null

# The traces come up to OUT (a copy tool may bring back only shallow files), and their top ops.
for kind in xplane.pb trace.json.gz; do
  TRACE=$(find "$OUT/profile" -name "*.$kind" 2>/dev/null | head -n 1)
  [ -n "$TRACE" ] && cp "$TRACE" "$OUT/profile.$kind"
done
[ -f "$OUT/profile.trace.json.gz" ] && "$PYTHON" bench/profile_top_ops.py "$OUT/profile.trace.json.gz" \
  --json "$OUT/top_ops.json" | tee "$OUT/top_ops.md" | head -n 20
rm -rf "$CACHE" "$OUT/run/model.keras"
echo "gpu_check: exit $STATUS; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
exit "$STATUS"
