"""How to decode: `Greedy` or `Beam`, turned from `--beam-width` into a strategy in one place.

A strategy decodes a batch of source ids with a `Seq2SeqTransformer`
(`decode(model, source_ids, max_length)`, in `keras.ops`, so on any Keras
backend and inside a TF graph) and names the SavedModel signature that
decodes the same way. Callers hold a strategy and call it: the translators, the
`TranslationGraph` graphs and the exports never compare beam widths.

The module imports no Keras (the search loops are imported when a strategy
decodes), so the command layer and `kseq.load` read it at no cost.

Example:
>>> decoding = decoding_strategy(beam_width=4)   # Beam(width=4, length_penalty=0.6)
>>> ids = decoding.decode(model, source_ids)     # (batch, max_target_length)
"""

import dataclasses
from typing import ClassVar

from kseq.errors import UsageError


@dataclasses.dataclass(frozen=True)
class Greedy:
    """The most likely token at each step (`greedy_decode`).

    Args:
        use_cache: decode with the key/value cache. False re-runs the decoder
            over the whole prefix at every step: the slow reference that the
            cached path must match, for tests and benchmarks.
    """

    signature: ClassVar[str] = "serving_default"  # the SavedModel signature that decodes this way
    width: ClassVar[int] = 1  # hypotheses kept at each step
    use_cache: bool = True

    def decode(self, model, source_ids, max_length=None):
        """Source ids (batch, steps) -> int32 ids (batch, max_length or the model's max_target_length)."""
        from kseq.decoding import greedy_decode

        return greedy_decode(model, source_ids, max_length, self.use_cache)


@dataclasses.dataclass(frozen=True)
class Beam:
    """Beam search with the model's cache (`beam_decode`); width 1 gives greedy's ids.

    Args:
        width: hypotheses kept at each step (`--beam-width`).
        length_penalty: GNMT's length penalty exponent (`--length-penalty`);
            0 compares the hypotheses' raw log-probabilities.
    """

    signature: ClassVar[str] = "translate_beam"  # the SavedModel signature that decodes this way
    width: int = 4
    length_penalty: float = 0.6

    def __post_init__(self):
        if self.width < 1:
            raise UsageError(f"--beam-width must be at least 1. Received: {self.width}")

    def decode(self, model, source_ids, max_length=None):
        """Source ids (batch, steps) -> int32 ids (batch, max_length or the model's max_target_length)."""
        from kseq.decoding import beam_decode

        return beam_decode(model, source_ids, self.width, self.length_penalty, max_length)


def decoding_strategy(beam_width=1, length_penalty=0.6):
    """The strategy `--beam-width N` asks for: `Greedy()` for 1, `Beam(N, length_penalty)` for more.

    Raises `UsageError` naming the flag for a width below 1.
    """
    if beam_width == 1:
        return Greedy()
    return Beam(beam_width, length_penalty)
