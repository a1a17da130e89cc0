"""The `kseq` command: train, distill, export, serve, translate, evaluate, attention."""

import argparse
import json
import os
import sys

from kseq.backends import BACKENDS, VARIANTS

EVALUATION_FILE = "evaluation.json"


def translate_command(args):
    from kseq import run_directory as rd
    from kseq.backends import load
    from kseq.tasks import output_key

    translator = load(args.run_dir, args.backend, args.variant, beam_width=args.beam_width)
    key = output_key(rd.load_config(args.run_dir)["settings"].get("task", "translation"))

    def show(output):  # a line of text, or with --json a line labelled by the run's task
        print(json.dumps({key: output}, ensure_ascii=False) if args.json else output, flush=True)

    if args.text:
        for start in range(0, len(args.text), args.batch_size):
            for output in translator.translate(args.text[start : start + args.batch_size])[0]:
                show(output)
        return
    for line in sys.stdin:  # streamed: one line in, one line out
        show(translator.translate([line.rstrip("\r\n")])[0][0])


def available_backends(run_dir):
    """(backend, variant) pairs that RUN_DIR has files for."""
    from kseq import run_directory as rd
    from kseq.backends import tflite_path

    pairs = [("keras", "float32")]
    if rd.saved_model_versions(run_dir):
        pairs.append(("saved_model", "float32"))
    for backend, kind in (("tflite", "text"), ("tflite_ids", "ids")):
        for variant in VARIANTS:
            try:
                tflite_path(run_dir, kind, variant)
            except FileNotFoundError:
                continue
            pairs.append((backend, variant))
    return pairs


def evaluate_command(args):
    from kseq import run_directory as rd
    from kseq.backends import load
    from kseq.data import load_corpus, read_tsv
    from kseq.evaluation import evaluate

    rd.load_config(args.run_dir)  # fails early, naming the file, if RUN_DIR is not a run
    pairs = load_corpus(args.data).test if os.path.isdir(args.data) else read_tsv(args.data)
    pairs = pairs[: args.limit] if args.limit else pairs
    if args.backend == "all":
        targets = available_backends(args.run_dir)
    else:
        targets = [(args.backend, args.variant)]
    rows = []
    for backend, variant in targets:
        print(f"{backend} {variant}:", file=sys.stderr)
        beam_width = args.beam_width if backend in ("keras", "saved_model") else 1
        scores, _ = evaluate(load(args.run_dir, backend, variant, beam_width=beam_width), pairs, args.batch_size,
                             verbose=True)
        rows.append({"backend": backend, "variant": variant, "beam_width": beam_width, **scores})
    print(f"\n{'backend':<12} {'variant':<8} {'beam':>4} {'BLEU':>6} {'chrF':>6} {'exact %':>8} {'sent/s':>8}")
    for row in rows:
        print(f"{row['backend']:<12} {row['variant']:<8} {row['beam_width']:>4} {row['bleu']:>6.2f} {row['chrf']:>6.2f} "
              f"{row['exact_match']:>8.1f} {row['sentences_per_second']:>8.1f}")
    out = args.json or os.path.join(args.run_dir, EVALUATION_FILE)
    rd.write_json(out, {"data": args.data, "sources": rows[0]["sentences"], "results": rows})
    print(f"\nWritten to {out}")


def attention_command(args):
    import tensorflow as tf

    from kseq import run_directory as rd
    from kseq.attention import cross_attention
    from kseq.plots import plot_attention
    from kseq.translator import Translator

    config = rd.load_config(args.run_dir)
    source_tokenizer, target_tokenizer = rd.load_tokenizers(args.run_dir, config)
    model = rd.load_model(args.run_dir)
    source_ids = Translator(model, source_tokenizer, target_tokenizer).source_ids(
        tf.constant([args.sentence])
    )
    output_ids, weights = cross_attention(model, source_ids)
    translation = target_tokenizer.detokenize(output_ids[None]).numpy()[0].decode("utf-8")
    plot_attention(
        weights,
        source_tokenizer.id_to_piece(source_ids.numpy()[0]),
        target_tokenizer.id_to_piece(output_ids),
        args.out,
        title=f"{args.sentence} → {translation}",
    )
    print(f"{translation}\nWritten to {args.out}")


def build_parser():
    parser = argparse.ArgumentParser(prog="kseq", description="Train and ship seq2seq Transformers.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("train", help="Train, evaluate and export (as train.py; see `kseq train --help`).",
                        add_help=False)
    commands.add_parser("export", help="Export a run (as `python -m export`; see `kseq export --help`).",
                        add_help=False)
    commands.add_parser("distill", help="Train a student on a teacher's translations "
                        "(see `kseq distill --help`).", add_help=False)
    commands.add_parser("serve", help="TF Serving's REST API and a page to try the model "
                        "(see `kseq serve --help`).", add_help=False)

    translate = commands.add_parser("translate", help="Translate (or summarize, generate: the run's task) "
                                    "arguments, or stdin line by line.")
    translate.add_argument("run_dir", metavar="RUN_DIR")
    translate.add_argument("text", nargs="*", metavar="TEXT", help="Sentences (default: read stdin).")
    translate.add_argument("--backend", choices=BACKENDS, default="keras")
    translate.add_argument("--variant", choices=VARIANTS, default="float32")
    translate.add_argument("--batch-size", type=int, default=32)
    translate.add_argument("--beam-width", type=int, default=1,
                           help="Beam search with N hypotheses (keras, saved_model); 1: greedy.")
    translate.add_argument("--json", action="store_true",
                           help="One JSON object per line, keyed by the run's task "
                           '({"translation_text": ...}, {"summary_text": ...}, {"generated_text": ...}).')
    translate.set_defaults(run=translate_command)

    evaluate = commands.add_parser("evaluate", help="BLEU, chrF and speed for each backend.")
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--data", required=True,
                          help="A TSV file (all its pairs), or a directory (its test split).")
    evaluate.add_argument("--backend", choices=("all",) + BACKENDS, default="keras")
    evaluate.add_argument("--variant", choices=VARIANTS, default="float32")
    evaluate.add_argument("--batch-size", type=int, default=64)
    evaluate.add_argument("--beam-width", type=int, default=1,
                          help="Beam search with N hypotheses (keras, saved_model); 1: greedy.")
    evaluate.add_argument("--limit", type=int, help="Only the first N pairs.")
    evaluate.add_argument("--json", help=f"Where to write the results (default: RUN_DIR/{EVALUATION_FILE}).")
    evaluate.set_defaults(run=evaluate_command)

    attention = commands.add_parser("attention", help="Draw the cross-attention map of a translation.")
    attention.add_argument("run_dir", metavar="RUN_DIR")
    attention.add_argument("sentence")
    attention.add_argument("--out", default="attention.png")
    attention.set_defaults(run=attention_command)

    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["train"]:
        from kseq.training import main as train_main

        return train_main(argv[1:])
    if argv[:1] == ["serve"]:
        from kseq.serving import main as serve_main

        return serve_main(argv[1:])
    if argv[:1] == ["distill"]:
        from kseq.distillation import main as distill_main

        return distill_main(argv[1:])
    if argv[:1] == ["export"]:
        from export.__main__ import main as export_main

        return export_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
