"""The built-in corpus: English -> Spanish numbers, quantities, dates and times.

Generated deterministically, with no download, so `python train.py` works on
a fresh machine. The domain is small but real: Spanish number words agree in
gender with their noun (`twenty-one houses` -> `veintiuna casas`), shorten
before masculine nouns (`veintiún libros`), and dates and clock times reorder
(`a quarter to four` -> `las cuatro menos cuarto`).
"""

import random

EN_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve "
    "thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
EN_ORDINAL_ONES = (
    "_ first second third fourth fifth sixth seventh eighth ninth tenth "
    "eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth "
    "eighteenth nineteenth"
).split()
EN_ORDINAL_TENS = {20: "twentieth", 30: "thirtieth"}

ES_BELOW_30 = (
    "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece "
    "catorce quince dieciséis diecisiete dieciocho diecinueve veinte veintiuno "
    "veintidós veintitrés veinticuatro veinticinco veintiséis veintisiete "
    "veintiocho veintinueve"
).split()
ES_TENS = "_ _ veinte treinta cuarenta cincuenta sesenta setenta ochenta noventa".split()
ES_HUNDREDS = (
    "_ ciento doscientos trescientos cuatrocientos quinientos seiscientos "
    "setecientos ochocientos novecientos"
).split()

MONTHS = (
    ("January", "enero", 31), ("February", "febrero", 28), ("March", "marzo", 31),
    ("April", "abril", 30), ("May", "mayo", 31), ("June", "junio", 30),
    ("July", "julio", 31), ("August", "agosto", 31), ("September", "septiembre", 30),
    ("October", "octubre", 31), ("November", "noviembre", 30), ("December", "diciembre", 31),
)

# (English singular, English plural, Spanish singular, Spanish plural, gender)
NOUNS = (
    ("book", "books", "libro", "libros", "m"),
    ("house", "houses", "casa", "casas", "f"),
    ("cat", "cats", "gato", "gatos", "m"),
    ("dog", "dogs", "perro", "perros", "m"),
    ("table", "tables", "mesa", "mesas", "f"),
    ("apple", "apples", "manzana", "manzanas", "f"),
    ("car", "cars", "coche", "coches", "m"),
    ("window", "windows", "ventana", "ventanas", "f"),
    ("bottle", "bottles", "botella", "botellas", "f"),
    ("chair", "chairs", "silla", "sillas", "f"),
    ("pencil", "pencils", "lápiz", "lápices", "m"),
    ("flower", "flowers", "flor", "flores", "f"),
    ("bird", "birds", "pájaro", "pájaros", "m"),
    ("tree", "trees", "árbol", "árboles", "m"),
    ("letter", "letters", "carta", "cartas", "f"),
    ("key", "keys", "llave", "llaves", "f"),
    ("cup", "cups", "taza", "tazas", "f"),
    ("egg", "eggs", "huevo", "huevos", "m"),
    ("orange", "oranges", "naranja", "naranjas", "f"),
    ("shirt", "shirts", "camisa", "camisas", "f"),
    ("shoe", "shoes", "zapato", "zapatos", "m"),
    ("ticket", "tickets", "billete", "billetes", "m"),
    ("room", "rooms", "habitación", "habitaciones", "f"),
    ("city", "cities", "ciudad", "ciudades", "f"),
    ("woman", "women", "mujer", "mujeres", "f"),
    ("man", "men", "hombre", "hombres", "m"),
    ("euro", "euros", "euro", "euros", "m"),
    ("kilometer", "kilometers", "kilómetro", "kilómetros", "m"),
    ("minute", "minutes", "minuto", "minutos", "m"),
    ("hour", "hours", "hora", "horas", "f"),
    ("day", "days", "día", "días", "m"),
    ("week", "weeks", "semana", "semanas", "f"),
    ("year", "years", "año", "años", "m"),
)

QUANTITY_FRAMES = (
    ("I have {}.", "Tengo {}."),
    ("We need {}.", "Necesitamos {}."),
    ("She bought {}.", "Ella compró {}."),
    ("They sold {}.", "Vendieron {}."),
    ("He found {}.", "Él encontró {}."),
    ("I see {}.", "Veo {}."),
    ("{}.", "{}."),
)
DATE_FRAMES = (
    ("Today is {}.", "Hoy es {}."),
    ("My birthday is on {}.", "Mi cumpleaños es {}."),
    ("The meeting is on {}.", "La reunión es {}."),
    ("She was born on {}.", "Ella nació {}."),
    ("We arrived on {}.", "Llegamos {}."),
)
TIME_FRAMES = (
    ("The train leaves at {}.", "El tren sale a {}."),
    ("We will meet at {}.", "Nos vemos a {}."),
    ("The store opens at {}.", "La tienda abre a {}."),
    ("I woke up at {}.", "Me desperté a {}."),
)
NUMBER_FRAMES = (
    ("{}", "{}"),
    ("The number is {}.", "El número es {}."),
    ("The answer is {}.", "La respuesta es {}."),
)


def english_number(n):
    """`342` -> `three hundred forty-two` (American usage, no `and`)."""
    if n < 20:
        return EN_ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return EN_TENS[tens] + (f"-{EN_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{EN_ONES[hundreds]} hundred" + (f" {english_number(rest)}" if rest else "")
    thousands, rest = divmod(n, 1000)
    return f"{english_number(thousands)} thousand" + (f" {english_number(rest)}" if rest else "")


def english_ordinal(n):
    """`21` -> `twenty-first` (1 to 31)."""
    if n < 20:
        return EN_ORDINAL_ONES[n]
    tens, ones = divmod(n, 10)
    if ones == 0:
        return EN_ORDINAL_TENS[n]
    return f"{EN_TENS[tens]}-{EN_ORDINAL_ONES[ones]}"


def english_year(year):
    """`1998` -> `nineteen ninety-eight`, `2005` -> `two thousand five`."""
    century, rest = divmod(year, 100)
    if 2000 <= year < 2010:
        return english_number(year)
    if rest == 0:
        return f"{english_number(century)} hundred"
    if rest < 10:
        return f"{english_number(century)} oh {EN_ONES[rest]}"
    return f"{english_number(century)} {english_number(rest)}"


def _spanish_below_100(n, one):
    """`one` is the word for a final 1: `uno`, `un` (before a masculine noun) or `una`."""
    if n % 10 == 1 and n != 11:
        if n == 1:
            return one
        if n == 21:
            return {"uno": "veintiuno", "un": "veintiún", "una": "veintiuna"}[one]
        return f"{ES_TENS[n // 10]} y {one}"
    if n < 30:
        return ES_BELOW_30[n]
    tens, ones = divmod(n, 10)
    return ES_TENS[tens] + (f" y {ES_BELOW_30[ones]}" if ones else "")


def _spanish_below_1000(n, one, feminine):
    hundreds, rest = divmod(n, 100)
    if hundreds == 0:
        return _spanish_below_100(rest, one)
    if n == 100:
        return "cien"
    word = ES_HUNDREDS[hundreds]
    if feminine and hundreds > 1:
        word = word[:-2] + "as"  # doscientos -> doscientas
    return word + (f" {_spanish_below_100(rest, one)}" if rest else "")


def spanish_number(n, gender="m", before_noun=False):
    """`21, "f"` -> `veintiuna`; `21, "m", before_noun=True` -> `veintiún`."""
    if n == 0:
        return "cero"
    one = "una" if gender == "f" else ("un" if before_noun else "uno")
    feminine = gender == "f"
    if n < 1000:
        return _spanish_below_1000(n, one, feminine)
    thousands, rest = divmod(n, 1000)
    head = "mil" if thousands == 1 else f"{_spanish_below_1000(thousands, 'un', feminine)} mil"
    return head + (f" {_spanish_below_1000(rest, one, feminine)}" if rest else "")


def quantity_pair(rng):
    en_sg, en_pl, es_sg, es_pl, gender = rng.choice(NOUNS)
    n = rng.choice((1, rng.randint(2, 20), rng.randint(2, 100), rng.randint(2, 999)))
    english = f"{english_number(n)} {en_sg if n == 1 else en_pl}"
    spanish = f"{spanish_number(n, gender, before_noun=True)} {es_sg if n == 1 else es_pl}"
    return _framed(rng, QUANTITY_FRAMES, english, spanish)


def date_pair(rng):
    en_month, es_month, days = rng.choice(MONTHS)
    day = rng.randint(1, days)
    english = f"{en_month} {english_ordinal(day)}"
    spanish = f"el {'primero' if day == 1 else spanish_number(day)} de {es_month}"
    if rng.random() < 0.5:
        year = rng.randint(1900, 2099)
        english += f", {english_year(year)}"
        spanish += f" de {spanish_number(year)}"
    return _framed(rng, DATE_FRAMES, english, spanish)


def clock_time_pair(rng):
    hour = rng.randint(1, 12)
    minute = rng.randrange(0, 60, 5)
    next_hour = hour % 12 + 1
    if minute == 0:
        english, spanish = f"{english_number(hour)} o'clock", _spanish_hour(hour)
    elif minute == 15:
        english, spanish = f"a quarter past {english_number(hour)}", f"{_spanish_hour(hour)} y cuarto"
    elif minute == 30:
        english, spanish = f"half past {english_number(hour)}", f"{_spanish_hour(hour)} y media"
    elif minute == 45:
        english = f"a quarter to {english_number(next_hour)}"
        spanish = f"{_spanish_hour(next_hour)} menos cuarto"
    elif minute < 30:
        english = f"{english_number(minute)} past {english_number(hour)}"
        spanish = f"{_spanish_hour(hour)} y {spanish_number(minute)}"
    else:
        english = f"{english_number(60 - minute)} to {english_number(next_hour)}"
        spanish = f"{_spanish_hour(next_hour)} menos {spanish_number(60 - minute)}"
    period = rng.choice((None, ("in the morning", "de la mañana"),
                         ("in the afternoon", "de la tarde"), ("at night", "de la noche")))
    if period:
        english, spanish = f"{english} {period[0]}", f"{spanish} {period[1]}"
    if rng.random() < 0.3:
        verb = "Es" if spanish.startswith("la una") else "Son"
        return f"It is {english}.", f"{verb} {spanish}."
    return _framed(rng, TIME_FRAMES, english, spanish)


def number_pair(rng):
    n = rng.choice((rng.randint(0, 99), rng.randint(100, 999), rng.randint(1000, 999_999)))
    return _framed(rng, NUMBER_FRAMES, english_number(n), spanish_number(n))


def _spanish_hour(hour):
    return "la una" if hour == 1 else f"las {spanish_number(hour)}"


def _framed(rng, frames, english, spanish):
    english_frame, spanish_frame = rng.choice(frames)
    english, spanish = english_frame.format(english), spanish_frame.format(spanish)
    return english[0].upper() + english[1:], spanish[0].upper() + spanish[1:]


GENERATORS = (quantity_pair, date_pair, clock_time_pair, number_pair)


def builtin_pairs(size=30_000, seed=1234):
    """`size` distinct (English, Spanish) pairs, the same for every call."""
    rng = random.Random(seed)
    pairs = {}
    while len(pairs) < size:
        english, spanish = rng.choice(GENERATORS)(rng)
        pairs.setdefault(english, spanish)
    return list(pairs.items())
