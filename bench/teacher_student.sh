#!/usr/bin/env bash
# The whole distillation chain in one accelerator call of at most 9 minutes: the rows of BENCHMARKS.md's
# distillation table.
#
#   KERAS_BACKEND=jax bash bench/teacher_student.sh DATA_DIR OUT_DIR [TEACHER_MINUTES] [STUDENT_MINUTES] [teacher flags]
#
# 1. the `base` teacher trains alone for TEACHER_MINUTES (default 2), scored greedy on the whole
#    test split (its metrics.json) and then with beam 4 (bench/quality.py);
# 2. `kseq distill` translates the training sources with the teacher's beam 4 and trains the
#    `small` student on them for STUDENT_MINUTES (default 1.5), scored greedy on the test split;
# 3. beside it, the `small` control learns from the references alone;
# 4. the student is exported and its TFLite ids model scored in float32 and dynamic int8 on the
#    whole test split (bench/student_export.sh). That needs TensorFlow: where it is missing (the
#    GPU machine's image), the script says so and prints the command to run where it is.
# With WITH_REFERENCES=1, a second student learns from the teacher's translations and the
# references (it does not fit in 9 minutes beside the rest). TEACHER_PRESET and STUDENT_PRESET
# (default base, small) let a CPU run the chain's wiring with `tiny` (tests/test_bench_teacher_student.py).
# The budgets count `fit()` only; BENCHMARKS.md ("Teacher and student") sizes the defaults. The `small` runs train in float32, so they export as they are. Every step writes
# OUT_DIR/logs/STEP.log (and .json) as it ends.
set -u
DATA=$1; OUT=$2; TEACHER_MINUTES=${3:-2}; STUDENT_MINUTES=${4:-1.5}; shift $(( $# < 4 ? $# : 4 ))
TEACHER_PRESET=${TEACHER_PRESET:-base}; STUDENT_PRESET=${STUDENT_PRESET:-small}
HERE=$(cd "$(dirname "$0")" && pwd)
LOGS=$OUT/logs; mkdir -p "$LOGS"
# A GPU-sized batch for the small model; dropout, since a GPU gives it many epochs.
SMALL=(--preset "$STUDENT_PRESET" --dropout 0.1 --tokens-per-batch 8192 --time-budget "$STUDENT_MINUTES"
       --mixed-precision float32 --eval-batch-size 512 --no-export)
# The processes share the accelerator's memory (JAX would take 75 % each).
memory() { XLA_PYTHON_CLIENT_MEM_FRACTION=$1; export XLA_PYTHON_CLIENT_MEM_FRACTION; }

# The base preset warms up over 4,000 steps, more than a few minutes take: 600.
memory 0.7; python bench/gpu_training.py --data "$DATA" --preset "$TEACHER_PRESET" --time-budget "$TEACHER_MINUTES" \
  --warmup-steps 600 --eval-batch-size 512 --probe 100 --out "$OUT/teacher" --json "$LOGS/teacher.json" "$@" \
  > "$LOGS/teacher.log" 2>&1

memory 0.12; python bench/quality.py "$OUT/teacher" --beam-widths 4 --batch-size 256 \
  --json "$LOGS/teacher_beam.json" > "$LOGS/teacher_beam.log" 2>&1 &
memory 0.45; python -m kseq distill --teacher "$OUT/teacher" --data "$DATA" --out "$OUT/student" "${SMALL[@]}" \
  > "$LOGS/student.log" 2>&1 &
DISTILL=$!
memory 0.1; python -m kseq train --data "$DATA" --out "$OUT/control" "${SMALL[@]}" > "$LOGS/control.log" 2>&1 &

if [ "${WITH_REFERENCES:-0}" = 1 ]; then
  # What `kseq distill --with-references` trains on, without translating again; it starts once
  # the teacher's translations are written (test.tsv comes last).
  while [ ! -f "$OUT/student/distilled/test.tsv" ] && kill -0 $DISTILL 2>/dev/null; do sleep 2; done
  if [ -f "$OUT/student/distilled/test.tsv" ]; then
    mkdir -p "$OUT/with-references"
    cat "$OUT/student/distilled/train.tsv" "$DATA/train.tsv" > "$OUT/with-references/train.tsv"
    cp "$DATA/valid.tsv" "$DATA/test.tsv" "$OUT/with-references/"
    memory 0.1; python -m kseq train --data "$OUT/with-references" --out "$OUT/student-with-references" \
      "${SMALL[@]}" > "$LOGS/student_with_references.log" 2>&1
  fi
fi
wait

if python -c "import tensorflow, tensorflow_text" 2>/dev/null; then
  bash "$HERE/student_export.sh" "$OUT"
else
  echo "TensorFlow is not installed here: export and score the student's TFLite models where it is, with" \
    "\`bash bench/student_export.sh $OUT\`." | tee "$LOGS/student_tflite.log"
fi
tail -n 12 "$LOGS"/*.log
[ -f "$OUT/student/metrics.json" ]  # the exit status: whether the chain got as far as the student's score
