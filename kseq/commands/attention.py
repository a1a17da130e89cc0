"""kseq attention RUN_DIR SENTENCE [--out attention.png]: where the last decoder layer looked."""

import numpy as np

from kseq.run_directory import RunDirectory
from kseq.special_ids import END_ID

HELP = "Draw the cross-attention map of a translation."


def add_arguments(parser):
    parser.add_argument("run_dir", metavar="RUN_DIR")
    parser.add_argument("sentence")
    parser.add_argument("--out", default="attention.png")


def run(args):
    from kseq.cross_attention import cross_attention
    from kseq.plots import plot_attention

    run_directory = RunDirectory(args.run_dir)
    source_vocabulary, target_vocabulary = run_directory.vocabularies()
    model = run_directory.load_model()
    # The source as the model was trained on it: pieces, cut to fit, then the end id.
    source = source_vocabulary.encode([args.sentence])[0][: model.max_source_length - 1] + [END_ID]
    output_ids, weights = cross_attention(model, np.array([source], np.int32))
    translation = target_vocabulary.decode(output_ids[None])[0]
    plot_attention(weights, source_vocabulary.id_to_piece(source), target_vocabulary.id_to_piece(output_ids),
                   args.out, title=f"{args.sentence} → {translation}")
    print(f"{translation}\nWritten to {args.out}")
