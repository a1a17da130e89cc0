"""kseq import MODEL --out RUN_DIR: a pretrained Marian (Opus-MT) model as a kseq run directory.

MODEL is a Hugging Face Hub name (Helsinki-NLP/opus-mt-en-es), downloaded
with `huggingface_hub` into its cache, or a local folder with config.json,
model.safetensors or pytorch_model.bin, source.spm, target.spm and vocab.json.
The run directory then works with every other command: translate, evaluate,
serve, export, parity, and `kseq train --init RUN_DIR` to fine-tune it.
"""

from kseq.marian import DEFAULT_MAX_LENGTH, import_marian

HELP = "Import a pretrained Marian (Opus-MT) model as a run directory."


def add_arguments(parser):
    parser.add_argument("model", metavar="MODEL", help="A Hub name (Helsinki-NLP/opus-mt-en-es) or a local folder.")
    parser.add_argument("--out", required=True, help="The run directory to write (new or empty).")
    parser.add_argument("--max-length", type=int, default=DEFAULT_MAX_LENGTH, metavar="N",
                        help="Most source and output tokens, at most the checkpoint's max_position_embeddings: "
                        "the exports' buffers and caches have this size (default: %(default)s).")


def run(args):
    import_marian(args.model, args.out, args.max_length, log=lambda message: print(message, flush=True))
    print(f"Next: `kseq export {args.out}`, or fine-tune with `kseq train --init {args.out} --data DIR`.")
