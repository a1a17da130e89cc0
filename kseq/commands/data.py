"""kseq data spa-eng: download a public corpus once, checked and split, for `--data spa-eng`.

The corpus goes to $XDG_CACHE_HOME/kseq/data/NAME (~/.cache/kseq/data/NAME) as
train.tsv, valid.tsv and test.tsv, split by a hash of the source so that a
source never lands in two splits. A second call finds it there and downloads
nothing. Any command's `--data NAME` then reads it (an existing path NAME wins),
and downloads it first if it is not there yet.
"""

from kseq.public_corpora import PUBLIC_CORPORA, fetch_corpus

HELP = "Download a public corpus (spa-eng) for --data."


def add_arguments(parser):
    parser.add_argument("name", choices=sorted(PUBLIC_CORPORA),
                        help="; ".join(f"{name}: {corpus.about}" for name, corpus in PUBLIC_CORPORA.items()))


def run(args):
    directory = fetch_corpus(args.name)
    print(directory)
    print(f"Train on it with `kseq train --data {args.name}` (or --data {directory}).")
