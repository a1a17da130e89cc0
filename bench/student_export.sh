#!/usr/bin/env bash
# The last step of bench/teacher_student.sh, where TensorFlow is: export the student to TFLite
# (float32 and dynamic-range int8) and score its ids models on the whole test split.
#
#   bash bench/student_export.sh OUT_DIR [tflite_variants.py flags]
set -u
OUT=$1; shift
LOGS=$OUT/logs; mkdir -p "$LOGS"
python -m kseq export "$OUT/student" --formats tflite --quantize dynamic --overwrite > "$LOGS/student_export.log" 2>&1 &&
  python bench/tflite_variants.py "$OUT/student" --models ids --json "$LOGS/student_tflite.json" "$@" \
    > "$LOGS/student_tflite.log" 2>&1
