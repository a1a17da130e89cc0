#!/usr/bin/env bash
# Teacher against student on an accelerator: the rows of BENCHMARKS.md's distillation table.
#
#   KERAS_BACKEND=jax bash bench/teacher_student.sh DATA_DIR OUT_DIR [TEACHER_MINUTES] [STUDENT_MINUTES] [teacher flags]
#
# Four trainings, each under a wall-clock budget (`--time-budget`), sharing one accelerator:
# 1. the `base` teacher trains alone for TEACHER_MINUTES (default 6: about 20 epochs on an H200),
#    scored greedy (its metrics.json) and then with beam 4 (bench/quality.py);
# 2. `kseq distill` translates the training sources with the teacher's beam and trains the
#    `small` student on them;
# 3. beside it, the `small` control learns from the references alone;
# 4. and a second student learns from the teacher's translations and the references.
# The three `small` runs share one recipe and budget (STUDENT_MINUTES, default 3) and train in
# float32, so they export as they are (`kseq export OUT_DIR/student`, where TensorFlow is, then
# bench/tflite_variants.py for their TFLite rows). Every step writes OUT_DIR/logs/STEP.log (and
# .json) as it ends. On one H100 the teacher compiles for about 2 minutes, then spends 11.5 s an
# epoch; the beam translation of spa-eng's 111,941 training sources takes 111 s; the students
# compile for about a minute. With 6 and 3 minutes the whole takes about 13 (BENCHMARKS.md).
set -u
DATA=$1; OUT=$2; TEACHER_MINUTES=${3:-6}; STUDENT_MINUTES=${4:-3}; shift $(( $# < 4 ? $# : 4 ))
LOGS=$OUT/logs; mkdir -p "$LOGS"
# A GPU-sized batch for the small model; dropout, since a GPU gives it many epochs.
SMALL=(--preset small --dropout 0.1 --tokens-per-batch 8192 --time-budget "$STUDENT_MINUTES"
       --mixed-precision float32 --eval-batch-size 512 --no-export)
# The processes share the accelerator's memory (JAX would take 75 % each).
memory() { XLA_PYTHON_CLIENT_MEM_FRACTION=$1; export XLA_PYTHON_CLIENT_MEM_FRACTION; }

# The base preset warms up over 4,000 steps, more than a few minutes take: 600.
memory 0.7; python bench/gpu_training.py --data "$DATA" --preset base --time-budget "$TEACHER_MINUTES" \
  --warmup-steps 600 --eval-batch-size 512 --probe 100 --out "$OUT/teacher" --json "$LOGS/teacher.json" "$@" \
  > "$LOGS/teacher.log" 2>&1

memory 0.12; python bench/quality.py "$OUT/teacher" --beam-widths 4 --batch-size 256 \
  --json "$LOGS/teacher_beam.json" > "$LOGS/teacher_beam.log" 2>&1 &
memory 0.45; python -m kseq distill --teacher "$OUT/teacher" --data "$DATA" --out "$OUT/student" "${SMALL[@]}" \
  > "$LOGS/student.log" 2>&1 &
DISTILL=$!
memory 0.1; python -m kseq train --data "$DATA" --out "$OUT/control" "${SMALL[@]}" > "$LOGS/control.log" 2>&1 &

# The second student: what `kseq distill --with-references` trains on, without translating again.
# It starts once the teacher's translations are written (test.tsv comes last).
while [ ! -f "$OUT/student/distilled/test.tsv" ] && kill -0 $DISTILL 2>/dev/null; do sleep 2; done
if [ -f "$OUT/student/distilled/test.tsv" ]; then
  mkdir -p "$OUT/with-references"
  cat "$OUT/student/distilled/train.tsv" "$DATA/train.tsv" > "$OUT/with-references/train.tsv"
  cp "$DATA/valid.tsv" "$DATA/test.tsv" "$OUT/with-references/"
  memory 0.1; python -m kseq train --data "$OUT/with-references" --out "$OUT/student-with-references" \
    "${SMALL[@]}" > "$LOGS/student_with_references.log" 2>&1
fi
wait
tail -n 12 "$LOGS"/*.log
