from kseq.builtin_corpus import (
    builtin_pairs,
    english_number,
    english_year,
    spanish_number,
)


def test_spanish_numbers_agree_in_gender_and_shorten_before_nouns():
    assert spanish_number(21) == "veintiuno"
    assert spanish_number(21, "f") == "veintiuna"
    assert spanish_number(21, "m", before_noun=True) == "veintiún"
    assert spanish_number(31, "m", before_noun=True) == "treinta y un"
    assert spanish_number(200, "f") == "doscientas"
    assert spanish_number(100) == "cien" and spanish_number(101) == "ciento uno"
    assert spanish_number(21_000) == "veintiún mil"
    assert spanish_number(1998) == "mil novecientos noventa y ocho"
    assert spanish_number(515_016) == "quinientos quince mil dieciséis"


def test_english_numbers_and_years():
    assert english_number(342) == "three hundred forty-two"
    assert english_number(90_017) == "ninety thousand seventeen"
    assert english_year(1998) == "nineteen ninety-eight"
    assert english_year(1905) == "nineteen oh five"
    assert english_year(2005) == "two thousand five"
    assert english_year(2021) == "twenty twenty-one"


def test_corpus_is_deterministic_distinct_and_large_enough():
    pairs = builtin_pairs()
    assert pairs == builtin_pairs()
    assert len(pairs) >= 20_000
    assert len({source for source, _ in pairs}) == len(pairs)
    assert ("It is a quarter to four.", "Son las cuatro menos cuarto.") in pairs or any(
        "menos cuarto" in target for _, target in pairs
    )
