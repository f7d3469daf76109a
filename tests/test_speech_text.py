"""Text prepared for a TTS voice: numbers, money, units, symbols and markdown read as words.

Every expected string is what a listener should hear.
"""

from __future__ import annotations

import pytest

from omnitalk.agent.speech_text import normalize_for_speech, strip_markdown


def _cases(*rows):
    return [pytest.param(text, expected, id=text) for text, expected in rows]


NUMBERS = _cases(
    ("I have 42 apples.", "I have forty-two apples."),
    ("About 2,500 people came.", "About two thousand, five hundred people came."),
    ("That is 1,000,000 stars.", "That is one million stars."),
    ("Pi is 3.14.", "Pi is three point one four."),
    ("It is 2.5.", "It is two point five."),
    ("Add 10.05 grams of salt.", "Add ten point zero five grams of salt."),
    ("It was -5 outside.", "It was minus five outside."),
    ("It fell to -3.5 today.", "It fell to minus three point five today."),
    ("Room 0 is free.", "Room zero is free."),
    ("From 9 to 5.", "From nine to five."),
)

YEARS = _cases(
    ("In 1813 the war went on.", "In eighteen thirteen the war went on."),
    ("It was 1999.", "It was nineteen ninety-nine."),
    ("In 2024, prices rose.", "In twenty twenty-four, prices rose."),
    ("The year 1100.", "The year eleven hundred."),
    ("By 2099 maybe.", "By twenty ninety-nine maybe."),
    # Outside 1100-2099 a four-digit number is a plain number.
    ("About 1000 people.", "About one thousand people."),
    ("About 2100 people.", "About two thousand, one hundred people."),
    ("Only 1099 left.", "Only one thousand and ninety-nine left."),
)

ORDINALS = _cases(
    ("He came 21st.", "He came twenty-first."),
    ("The 1st, 2nd and 3rd place.", "The first, second and third place."),
    ("On the 11th day.", "On the eleventh day."),
    ("The 101st try.", "The one hundred and first try."),
)

TIMES = _cases(
    ("Meet at 3:30 today.", "Meet at three thirty today."),
    ("The bus leaves at 7:05.", "The bus leaves at seven oh five."),
    ("Class starts at 9:00.", "Class starts at nine o'clock."),
    ("Dinner is at 12:30.", "Dinner is at twelve thirty."),
    ("The train is at 15:45.", "The train is at fifteen forty-five."),
    ("Meet at 3:30 pm.", "Meet at three thirty pm."),
)

MONEY = _cases(
    ("It costs $3.50.", "It costs three dollars and fifty cents."),
    ("It costs $1.", "It costs one dollar."),
    ("That is $10 each.", "That is ten dollars each."),
    ("Pay £20 now.", "Pay twenty pounds now."),
    ("It costs £1.", "It costs one pound."),
    ("A grant of €2 million.", "A grant of two million euros."),
    ("About €2.5 billion.", "About two point five billion euros."),
    ("It was $1,250.75 in total.", "It was one thousand, two hundred and fifty dollars and "
     "seventy-five cents in total."),
    ("The price is $1.05.", "The price is one dollar and five cents."),
    ("It costs £20.00.", "It costs twenty pounds."),
)

PERCENTAGES = _cases(
    ("Save 50% today.", "Save fifty percent today."),
    ("A rate of 12.5% applies.", "A rate of twelve point five percent applies."),
    ("It is 100% done.", "It is one hundred percent done."),
    ("Only 1% left.", "Only one percent left."),
)

UNITS = _cases(
    ("It is 5 km away.", "It is five kilometers away."),
    ("It is 25°C today.", "It is twenty-five degrees Celsius today."),
    ("It is 25 °C today.", "It is twenty-five degrees Celsius today."),
    ("It was -20°C.", "It was minus twenty degrees Celsius."),
    ("It weighs 10 kg.", "It weighs ten kilograms."),
    ("Drive at 60 mph.", "Drive at sixty miles per hour."),
    ("Limit 100 km/h here.", "Limit one hundred kilometers per hour here."),
    ("Run 1.5 km.", "Run one point five kilometers."),
    ("Add 5g of sugar.", "Add five grams of sugar."),
)

SYMBOLS_AND_ABBREVIATIONS = _cases(
    ("Salt & pepper.", "Salt and pepper."),
    ("2 + 2 = 4", "two plus two equals four."),
    ("Write to me@example.com today.", "Write to me at example.com today."),
    ("Fruit, e.g., apples.", "Fruit, for example, apples."),
    ("Ask Dr. Smith.", "Ask Doctor Smith."),
    ("Ask Mr. Jones and Mrs. Jones.", "Ask Mister Jones and Missus Jones."),
    ("Red vs. blue.", "Red versus blue."),
    ("One thing, i.e. this.", "One thing, that is this."),
    ("It takes ~30 minutes.", "It takes about thirty minutes."),
    ("It hit #1 today.", "It hit number one today."),
)

MARKDOWN_AND_QUOTES = _cases(
    ("This is **bold** text.", "This is bold text."),
    ("This is *italic* text.", "This is italic text."),
    ("This is __bold__ and _italic_.", "This is bold and italic."),
    ("# Heading\nSome text", "Heading. Some text."),
    ("Options:\n- Tea\n- Coffee\n- Water", "Options: Tea. Coffee. Water."),
    ("1. First step\n2. Second step", "First step. Second step."),
    ("See [the docs](https://example.com/docs).", "See the docs."),
    ("Go to https://example.com/page now.", "Go to a link now."),
    ("Or www.example.org instead.", "Or a link instead."),
    ("Before\n```python\nprint(1)\n```\nAfter", "Before. After."),
    ("Run `pip install` now.", "Run pip install now."),
    ('He said "hello" to me.', "He said hello to me."),
    ("She said “hi” twice.", "She said hi twice."),
    ("Nice 😀 day.", "Nice day."),
)


@pytest.mark.parametrize("text, expected", NUMBERS)
def test_numbers_are_read_as_words(text, expected):
    """Integers, thousands separators, decimals and negatives become words."""
    assert normalize_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", YEARS)
def test_four_digit_numbers_in_year_range_are_read_as_years(text, expected):
    """1100-2099 read as years ("eighteen thirteen"); other four-digit numbers read plainly."""
    assert normalize_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", ORDINALS)
def test_ordinals(text, expected):
    assert normalize_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", TIMES)
def test_clock_times(text, expected):
    """h:mm reads as "three thirty", "seven oh five", "nine o'clock"."""
    assert normalize_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", MONEY)
def test_money(text, expected):
    """Currency symbols become the currency's name, with cents and scale words."""
    assert normalize_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", PERCENTAGES)
def test_percentages(text, expected):
    assert normalize_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", UNITS)
def test_units(text, expected):
    """Unit abbreviations after a number are spelt out."""
    assert normalize_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", SYMBOLS_AND_ABBREVIATIONS)
def test_symbols_and_abbreviations(text, expected):
    assert normalize_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", MARKDOWN_AND_QUOTES)
def test_markdown_and_quotes_are_not_read_aloud(text, expected):
    """Markup disappears; list items and headings become sentences; links become their text."""
    assert normalize_for_speech(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    _cases(
        ("**bold** and *italic*", "bold and italic."),
        ("## Title\nBody text", "Title. Body text."),
        ("* one\n* two", "one. two."),
        ("+ one\n+ two", "one. two."),
        ("> quoted line", "quoted line."),
        ("~~struck~~ out", "struck out."),
        ("[link text](https://a.example) and more", "link text and more."),
        ("![an image](pic.png)", "an image."),
        ("Visit https://a.example/c?d=1 today", "Visit a link today."),
        ("```\ncode only\n```", ""),
        ("text ```never closed", "text."),
        ("Use `x` and `y`", "Use x and y."),
        ("Line one\nLine two!", "Line one. Line two!"),
        ("Intro:\n\n- a", "Intro: a."),
    ),
)
def test_strip_markdown(text, expected):
    """strip_markdown alone: markup removed, each line a sentence, numbers left as digits."""
    assert strip_markdown(text) == expected


def test_strip_markdown_leaves_numbers_and_symbols_alone():
    assert strip_markdown("**Total:** $3.50 & 25%") == "Total: $3.50 & 25%."


# --- Cases a first version got wrong for a listener. ---

LISTENER_CASES = [
    pytest.param(
        "There were 1,813 people.",
        "There were one thousand, eight hundred and thirteen people.",
        id="thousands-separator-is-not-a-year",
    ),
    pytest.param(
        "The change was -0.5 points.",
        "The change was minus zero point five points.",
        id="negative-fraction-keeps-minus",
    ),
    pytest.param(
        "It costs $1.01.",
        "It costs one dollar and one cent.",
        id="one-cent-singular",
    ),
    pytest.param(
        "It costs $0.99.",
        "It costs ninety-nine cents.",
        id="cents-only-amount",
    ),
    pytest.param(
        "It is 1 km away.",
        "It is one kilometer away.",
        id="one-unit-singular",
    ),
    pytest.param(
        "Meet at 3:30pm.",
        "Meet at three thirty pm.",
        id="time-with-attached-pm",
    ),
    pytest.param(
        "We sell pens, pencils, etc.",
        "We sell pens, pencils, et cetera.",
        id="abbreviation-at-sentence-end-keeps-period",
    ),
]


@pytest.mark.parametrize("text, expected", LISTENER_CASES)
def test_listener_cases(text, expected):
    assert normalize_for_speech(text) == expected
