"""The built-in sample set: short text conversations, written for this project, so the whole data
pipeline (rewrite, normalise, filter, synthesise, verify, tokenise) runs offline on a fresh
machine with no dataset download.

Most conversations are ones a voice assistant should learn from (`expect` "keep"): one or a few
short spoken-style exchanges, full of numbers, dates, money, percentages, units, abbreviations and
symbols ("July 20, 1969", "$4.50", "15%", "20°C", "e.g.", "&") so the normalisation stage has
something to turn into words. Others are seeded for the filter to drop, and `expect` names the
reason it should give ("code", "table", "long_form", "lyrics", "email", "markdown", "too_long"):
a build of the sample shows at a glance whether each stage does what it claims.

Keep texts are written to survive the pipeline: after `normalise_for_speech` they hold only
letters and punctuation a voice can say (no "H2O", "5G", "/" or accents) and answers stay within
the 40-word spoken limit. Every fact is meant to be correct; none of the text comes from a public
dataset.

The hand-written text is package data in `sample_data/`, one JSON object a line (UTF-8); this
module reads it and computes the rest. Conversations are numbered in the order the files list
them, so the ids stay stable as long as that order does.

- `questions.jsonl`: single exchanges, by topic ({"topic", "question", "answer"}); answers are
  one or two sentences a voice can say.
- capitals, elements, animal groups, words and dated events (`capitals.jsonl`, ...): fact
  tables, one row a line, that the code below turns into exchanges, the phrasing rotating with
  the row. Dates are written "Month D, YYYY".
- arithmetic and unit conversions: computed here, so the answers are right by construction.
- `follow_ups.jsonl`: multi-turn chats ({"turns": [{"question", "answer"}, ...]}); each later
  question only makes sense after the earlier answers.
- `drops.jsonl`: the seeded drops ({"reason", "question", "answer"}), by reason: "code" asks for
  or answers with program code; "table" answers with a markdown table; "long_form" asks for an
  essay, story or article and gets several paragraphs over 150 words; "lyrics" asks for lyrics
  or a poem and gets short verse lines; "email" asks for an email or letter and gets a greeting
  and a sign-off; "markdown" answers an ordinary question with headings, bullet lists and bold;
  "too_long" answers one in over 120 words of plain prose.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from importlib.resources import files
from importlib.resources.abc import Traversable

KEEP = "keep"
DROP_REASONS = ("code", "table", "long_form", "lyrics", "email", "markdown", "too_long")

SAMPLE_DATA = files("omnitalk.data") / "sample_data"

Exchange = tuple[str, str]  # (user question, assistant answer)
# A line's fields and the type of each; a nested Fields stands for a non-empty list of objects.
Fields = dict[str, "type | Fields"]

_EXCHANGE_FIELDS: Fields = {"question": str, "answer": str}
_FILE_FIELDS: dict[str, Fields] = {
    "questions.jsonl": {"topic": str, **_EXCHANGE_FIELDS},
    "capitals.jsonl": {"country": str, "capital": str, "region": str, "usual_guess": str},
    "elements.jsonl": {"name": str, "symbol": str, "atomic_number": int, "latin_name": str},
    "animal_groups.jsonl": {"animals": str, "group": str, "remark": str},
    "words.jsonl": {"word": str, "meaning": str, "example": str},
    "dated_events.jsonl": {"event": str, "date": str, "fact": str},
    "follow_ups.jsonl": {"turns": _EXCHANGE_FIELDS},
    "drops.jsonl": {"reason": str, **_EXCHANGE_FIELDS},
}


class SampleDataError(ValueError):
    """A built-in sample file is missing or malformed; the message names the file and line."""


def read_sample_file(path: Traversable, fields: Fields) -> list[tuple]:
    """Each line of the JSONL file at `path` as a tuple of its `fields` values, in `fields` order
    (a nested list of objects as a tuple of such tuples). Every line must be one JSON object with
    exactly those fields, so line numbers in errors match the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SampleDataError(f"{path}: cannot read the built-in sample file ({error})") from error
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        where = f"{path}, line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise SampleDataError(f"{where}: not valid JSON ({error})") from error
        rows.append(_values(row, fields, where))
    return rows


def _values(row: object, fields: Fields, where: str) -> tuple:
    if not isinstance(row, dict) or row.keys() != fields.keys():
        found = list(row) if isinstance(row, dict) else type(row).__name__
        raise SampleDataError(f"{where}: expected an object with fields {list(fields)}, "
                              f"found {found}")
    values = []
    for name, kind in fields.items():
        value = row[name]
        if isinstance(kind, dict):
            if not isinstance(value, list) or not value:
                raise SampleDataError(f"{where}: {name} should be a non-empty list of objects")
            value = tuple(_values(item, kind, f"{where}, {name}[{index}]")
                          for index, item in enumerate(value))
        elif not isinstance(value, kind):
            raise SampleDataError(f"{where}: {name} should be {kind.__name__}, "
                                  f"not {type(value).__name__}")
        values.append(value)
    return tuple(values)


def _rows(name: str) -> list[tuple]:
    return read_sample_file(SAMPLE_DATA / name, _FILE_FIELDS[name])


# ---------------------------------------------------------------------------------------------
# Fact tables turned into exchanges with a few phrasings; the phrasing rotates with the row.
# ---------------------------------------------------------------------------------------------


def _capital_exchanges() -> Iterator[Exchange]:
    for row, (country, capital, region, usual_guess) in enumerate(_rows("capitals.jsonl")):
        not_the_guess = f", not {usual_guess}" if usual_guess else ""
        phrasings = (
            (f"What's the capital of {country}?",
             f"The capital of {country} is {capital}{not_the_guess}."),
            (f"Which city is the capital of {country}?",
             f"{capital} is the capital of {country}{not_the_guess}."),
            (f"Do you know the capital city of {country}?",
             f"Yes, it's {capital}{not_the_guess}. {country} is in {region}."),
            (f"I always forget, what's the capital of {country}?",
             f"It's {capital}{not_the_guess}, and {country} is in {region}."),
        )
        yield phrasings[row % len(phrasings)]


def _element_exchanges() -> Iterator[Exchange]:
    for row, (name, symbol, number, latin) in enumerate(_rows("elements.jsonl")):
        from_latin = f", from the Latin '{latin}'" if latin else ""
        phrasings = (
            (f"What's the chemical symbol for {name}?",
             f"The symbol for {name} is {symbol}{from_latin}, and its atomic number is {number}."),
            (f"What's the atomic number of {name}?",
             f"{name.capitalize()} has atomic number {number}, so each atom has {number} protons. "
             f"Its symbol is {symbol}{from_latin}."),
            (f"Which element is number {number} on the periodic table?",
             f"Element {number} is {name}, with the symbol {symbol}{from_latin}."),
        )
        yield phrasings[row % len(phrasings)]


def _animal_group_exchanges() -> Iterator[Exchange]:
    for row, (animals, group, remark) in enumerate(_rows("animal_groups.jsonl")):
        phrasings = (
            (f"What do you call a group of {animals}?",
             f"A group of {animals} is called {group}. {remark}"),
            (f"Is there a special name for a group of {animals}?",
             f"Yes, it's {group}. {remark}"),
        )
        yield phrasings[row % len(phrasings)]


def _word_exchanges() -> Iterator[Exchange]:
    for row, (word, meaning, example) in enumerate(_rows("words.jsonl")):
        phrasings = (
            (f"What does {word} mean?",
             f"'{word.capitalize()}' means {meaning}, as in: {example}"),
            (f"What's the meaning of the word {word}?",
             f"It means {meaning}. For example: {example}"),
        )
        yield phrasings[row % len(phrasings)]


def _dated_event_exchanges() -> Iterator[Exchange]:
    for row, (event, date, fact) in enumerate(_rows("dated_events.jsonl")):
        month_and_day, year = date.split(", ")
        phrasings = (
            (f"When was {event}?",
             f"{event[0].upper()}{event[1:]} was on {date}. {fact}"),
            (f"What year was {event}?",
             f"It was in {year}, on {month_and_day} to be exact. {fact}"),
            (f"Do you know the date of {event}?",
             f"Yes, it was {date}. {fact}"),
        )
        yield phrasings[row % len(phrasings)]


# ---------------------------------------------------------------------------------------------
# Arithmetic and unit conversions: computed, so the answers are right by construction.
# ---------------------------------------------------------------------------------------------


def _number(value: Decimal, places: int = 2) -> str:
    """`value` rounded half up to `places`, with thousands separators and no trailing zeros."""
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded == rounded.to_integral_value():
        return f"{int(rounded):,}"
    return f"{rounded.normalize():,f}"


def _dollars(value: Decimal) -> str:
    """$12, $22.50, $1,102.50: whole amounts without cents, others with both digits."""
    cents = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if cents == cents.to_integral_value():
        return f"${int(cents):,}"
    return f"${cents:,.2f}"


# (first, second) for each operation; the sums are all small enough to say in a breath.
_PRODUCTS = ((7, 8), (12, 12), (9, 6), (25, 4), (13, 7), (15, 15), (8, 9))
_SUMS = ((345, 278), (1250, 750), (99, 101), (4800, 3200))
_DIFFERENCES = ((1000, 365), (92, 47), (500, 123))
_QUOTIENTS = ((144, 12), (1000, 8), (96, 4), (81, 9))
# (percent, amount in dollars)
_PERCENT_OF = ((15, "80"), (20, "45"), (10, "250"), (25, "60"), (18, "50"), (5, "1200"))
# (price in dollars, percent off)
_DISCOUNTS = (("40", 25), ("120", 15), ("60", 30), ("250", 10))
# (bill in dollars, people sharing it)
_SPLITS = (("90", 4), ("75", 3), ("130", 4))


def _arithmetic_exchanges() -> Iterator[Exchange]:
    for row, (first, second) in enumerate(_PRODUCTS):
        product = first * second
        yield ((f"What's {first} times {second}?", f"{first} times {second} is {product}.")
               if row % 2 == 0 else
               (f"Quick one: what's {first} multiplied by {second}?",
                f"{first} × {second} is {product}."))
    for first, second in _SUMS:
        yield (f"How much is {first:,} plus {second:,}?",
               f"{first:,} plus {second:,} makes {first + second:,}.")
    for first, second in _DIFFERENCES:
        yield (f"What's {first:,} minus {second}?", f"{first:,} minus {second} leaves "
               f"{first - second:,}.")
    for first, second in _QUOTIENTS:
        yield (f"What's {first:,} divided by {second}?",
               f"{first:,} divided by {second} is {first // second}, since {second} times "
               f"{first // second} is {first:,}.")
    for percent, amount in _PERCENT_OF:
        share = Decimal(percent) * Decimal(amount) / 100
        yield (f"How much is {percent}% of {_dollars(Decimal(amount))}?",
               f"{percent}% of {_dollars(Decimal(amount))} comes to {_dollars(share)}, because "
               f"{percent}% is the same as multiplying by {_number(Decimal(percent) / 100)}.")
    for price, percent in _DISCOUNTS:
        saving = Decimal(price) * percent / 100
        yield (f"Something costs {_dollars(Decimal(price))} and it's {percent}% off. "
               f"What do I pay?",
               f"You'd pay {_dollars(Decimal(price) - saving)}. The discount takes "
               f"{_dollars(saving)} off, which is {percent}% of {_dollars(Decimal(price))}.")
    for bill, people in _SPLITS:
        each = Decimal(bill) / people
        yield (f"If {people} of us split a {_dollars(Decimal(bill))} bill, what does each "
               f"person pay?",
               f"Each of you pays {_dollars(each)}.")


# name -> (unit written after the amount, unit as asked for, the factor or function, whether
# the factor is exact, how to do it in your head). Degrees sit on the number: "20°C".
_CONVERTERS: dict[str, tuple[str, str, Callable[[Decimal], Decimal], bool, str]] = {
    "km_to_miles": (" km", "miles", lambda km: km * Decimal("0.621371"), False,
                    "multiply by about 0.62"),
    "miles_to_km": (" miles", "kilometres", lambda miles: miles * Decimal("1.609344"), True,
                    "multiply by about 1.6"),
    "c_to_f": ("°C", "Fahrenheit", lambda c: c * Decimal("1.8") + 32, True,
               "multiply by 1.8, then add 32"),
    "f_to_c": ("°F", "Celsius", lambda f: (f - 32) / Decimal("1.8"), True,
               "subtract 32, then divide by 1.8"),
    "kg_to_lb": (" kg", "pounds", lambda kg: kg * Decimal("2.20462"), False,
                 "multiply by about 2.2"),
    "lb_to_kg": (" lb", "kilograms", lambda lb: lb * Decimal("0.45359237"), True,
                 "multiply by about 0.45"),
    "inches_to_cm": (" inches", "centimetres", lambda inches: inches * Decimal("2.54"), True,
                     "multiply by 2.54"),
    "ft_to_m": (" ft", "meters", lambda ft: ft * Decimal("0.3048"), True,
                "multiply by 0.3048"),
    "m_to_ft": (" m", "feet", lambda m: m / Decimal("0.3048"), True,
                "multiply by about 3.28"),
    "l_to_gallons": (" L", "US gallons", lambda litres: litres / Decimal("3.785411784"), True,
                     "divide by about 3.79"),
    "kmh_to_mph": (" km/h", "miles per hour", lambda kmh: kmh * Decimal("0.621371"), False,
                   "multiply by about 0.62"),
}
# The unit each converter gives, as written after the result.
_RESULT_UNITS = {
    "km_to_miles": " miles", "miles_to_km": " km", "c_to_f": "°F", "f_to_c": "°C",
    "kg_to_lb": " lb", "lb_to_kg": " kg", "inches_to_cm": " cm", "ft_to_m": " m",
    "m_to_ft": " ft", "l_to_gallons": " US gallons", "kmh_to_mph": " mph",
}
# (converter, amount, decimal places in the answer): everyday amounts people actually ask about.
_CONVERSIONS: tuple[tuple[str, str, int], ...] = (
    ("km_to_miles", "5", 1), ("km_to_miles", "10", 1), ("km_to_miles", "21.1", 1),
    ("km_to_miles", "100", 1),
    ("miles_to_km", "13.1", 1), ("miles_to_km", "3", 1), ("miles_to_km", "26.2", 1),
    ("miles_to_km", "50", 1),
    ("c_to_f", "0", 1), ("c_to_f", "20", 1), ("c_to_f", "25", 1), ("c_to_f", "37", 1),
    ("c_to_f", "-10", 1), ("c_to_f", "180", 1),
    ("f_to_c", "50", 1), ("f_to_c", "72", 1), ("f_to_c", "350", 0), ("f_to_c", "0", 1),
    ("kg_to_lb", "1", 1), ("kg_to_lb", "5", 1), ("kg_to_lb", "70", 0),
    ("lb_to_kg", "10", 1), ("lb_to_kg", "150", 1),
    ("inches_to_cm", "12", 2), ("ft_to_m", "6", 2), ("m_to_ft", "100", 0),
    ("l_to_gallons", "10", 1), ("kmh_to_mph", "100", 0),
)


def _conversion_exchanges() -> Iterator[Exchange]:
    for row, (name, amount_text, places) in enumerate(_CONVERSIONS):
        unit, asked_unit, convert, factor_exact, how = _CONVERTERS[name]
        amount = Decimal(amount_text)
        exact = convert(amount)
        result = _number(exact, places)
        about = "" if factor_exact and Decimal(result.replace(",", "")) == exact else "about "
        given, wanted = f"{_number(amount)}{unit}", f"{result}{_RESULT_UNITS[name]}"
        phrasings = (
            (f"How much is {given} in {asked_unit}?",
             f"{given} is {about}{wanted}. To convert, {how}."),
            (f"Can you convert {given} to {asked_unit}?",
             f"Sure, {given} comes to {about}{wanted}."),
            (f"What's {given} in {asked_unit}?",
             f"That's {about}{wanted}. A quick way is to {how}."),
        )
        yield phrasings[row % len(phrasings)]


def _question_exchanges() -> Iterator[Exchange]:
    for _topic, question, answer in _rows("questions.jsonl"):
        yield question, answer


def _drops() -> Iterator[tuple[Exchange, str]]:
    for number, (reason, question, answer) in enumerate(_rows("drops.jsonl"), 1):
        if reason not in DROP_REASONS:
            raise SampleDataError(f"{SAMPLE_DATA / 'drops.jsonl'}, line {number}: reason "
                                  f"{reason!r} is not one of {DROP_REASONS}")
        yield (question, answer), reason


_KEPT_EXCHANGES: tuple[Callable[[], Iterator[Exchange]], ...] = (
    _question_exchanges, _capital_exchanges, _element_exchanges, _animal_group_exchanges,
    _word_exchanges, _dated_event_exchanges, _arithmetic_exchanges, _conversion_exchanges,
)


def _all_conversations() -> Iterator[tuple[tuple[Exchange, ...], str]]:
    """(exchanges, expect) in a fixed order: the order is what keeps the ids stable."""
    for generate in _KEPT_EXCHANGES:
        for exchange in generate():
            yield (exchange,), KEEP
    for (turns,) in _rows("follow_ups.jsonl"):
        yield turns, KEEP
    for exchange, reason in _drops():
        yield (exchange,), reason


def sample_conversations() -> list[dict]:
    """Every built-in conversation: {"id": str, "messages": [{"role": "user"|"assistant",
    "content": str}, ...], "expect": str}.

    A fresh list of fresh dicts on every call, always the same, so callers may change theirs.
    """
    conversations = []
    for number, (exchanges, expect) in enumerate(_all_conversations(), 1):
        messages = []
        for question, answer in exchanges:
            messages.append({"role": "user", "content": question})
            messages.append({"role": "assistant", "content": answer})
        conversations.append({"id": f"sample-{number:04d}", "messages": messages,
                              "expect": expect})
    return conversations
