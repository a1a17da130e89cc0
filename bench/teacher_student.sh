#!/usr/bin/env bash
# Teacher against student on an accelerator: the rows of BENCHMARKS.md's distillation table.
#
#   KERAS_BACKEND=jax bash bench/teacher_student.sh DATA_DIR OUT_DIR [TEACHER_MINUTES] [STUDENT_EPOCHS] [teacher flags]
#
# 1. the `base` teacher trains for TEACHER_MINUTES (default 4; `--time-budget`), then is scored
#    greedy (its metrics.json) and with beam 4 (bench/quality.py);
# 2. `kseq distill` translates the training sources with the teacher's beam and trains the `small`
#    student on them (float32, so it exports as it is) for STUDENT_EPOCHS (default 30);
# 3. a second student trains on the teacher's translations and the references together;
# 4. each student is scored greedy and with beam 4.
# Every step writes its log and JSON into OUT_DIR/logs as it ends. The recipe study
# (bench/recipe_study.py) shares the accelerator meanwhile. Export the students where TensorFlow
# is (`kseq export OUT_DIR/student`) for their TFLite rows (bench/tflite_variants.py).
set -u
DATA=$1; OUT=$2; TEACHER_MINUTES=${3:-4}; EPOCHS=${4:-30}; shift $(( $# < 4 ? $# : 4 ))
LOGS=$OUT/logs; mkdir -p "$LOGS"
# 30 epochs overfit without dropout (the `small` preset has none: it is tuned for 30 CPU minutes).
STUDENT=(--preset small --dropout 0.1 --epochs "$EPOCHS" --mixed-precision float32 --eval-batch-size 512 --no-export)

python bench/recipe_study.py --data "$DATA" --preset small --epochs "$EPOCHS" --mixed-precision float32 \
  --eval-batch-size 512 --out "$OUT/recipes" --json "$LOGS/recipes.json" > "$LOGS/recipes.log" 2>&1 &

python bench/gpu_training.py --data "$DATA" --preset base --time-budget "$TEACHER_MINUTES" --epochs 100 \
  --eval-batch-size 512 --probe 100 --out "$OUT/teacher" --json "$LOGS/teacher.json" "$@" > "$LOGS/teacher.log" 2>&1
python bench/quality.py "$OUT/teacher" --beam-widths 4 --batch-size 512 --json "$LOGS/teacher_beam.json" \
  > "$LOGS/teacher_beam.log" 2>&1
python -m kseq distill --teacher "$OUT/teacher" --data "$DATA" --out "$OUT/student" "${STUDENT[@]}" \
  > "$LOGS/student.log" 2>&1
# The second student: `kseq distill --with-references` without translating again.
mkdir -p "$OUT/with-references"
cat "$OUT/student/distilled/train.tsv" "$DATA/train.tsv" > "$OUT/with-references/train.tsv"
cp "$DATA/valid.tsv" "$DATA/test.tsv" "$OUT/with-references/"
python -m kseq train --data "$OUT/with-references" --out "$OUT/student-with-references" "${STUDENT[@]}" \
  > "$LOGS/student_with_references.log" 2>&1
python bench/quality.py "$OUT/student" "$OUT/student-with-references" --beam-widths 1,4 --batch-size 512 \
  --json "$LOGS/students.json" > "$LOGS/students.log" 2>&1
wait
tail -n 12 "$LOGS"/*.log
