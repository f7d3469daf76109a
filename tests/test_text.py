"""Text prepared for a TTS voice: numbers, money, units, symbols and markdown read as words.

Every expected string is what a listener should hear.
"""

from __future__ import annotations

import pytest

from omnitalk.text.speech import normalise_for_speech, strip_markdown


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


DATES = _cases(
    ("Apollo 11 landed on July 20, 1969.",
     "Apollo eleven landed on July twentieth, nineteen sixty-nine."),
    ("It landed on 20 July 1969.", "It landed on the twentieth of July nineteen sixty-nine."),
    ("It landed on 1969-07-20.", "It landed on July twentieth, nineteen sixty-nine."),
    ("It happened in July 1969.", "It happened in July nineteen sixty-nine."),
    ("Meet on Jul. 4 at noon.", "Meet on July fourth at noon."),
    ("Meet on Jul 4th.", "Meet on July fourth."),
    ("It was 7/20/1969.", "It was July twentieth, nineteen sixty-nine."),
    ("Sept. 11, 2001 changed things.", "September eleventh, two thousand and one changed things."),
    ("Released 2005-03-01.", "Released March first, two thousand and five."),
    ("In June 2000 we met.", "In June two thousand we met."),
    ("On Dec 25 2020 it snowed.", "On December twenty-fifth, twenty twenty it snowed."),
    ("On Feb 29, 2024 we leapt.", "On February twenty-ninth, twenty twenty-four we leapt."),
    ("It is February 29.", "It is February twenty-ninth."),
    ("Celebrate the 4th of July.", "Celebrate the fourth of July."),
    ("The 2nd of May 1990.", "The second of May nineteen ninety."),
    ("On 4 Jul. 1776 they signed.", "On the fourth of July seventeen seventy-six they signed."),
    # The abbreviation's period goes mid-sentence but stays where it ends the sentence.
    ("On 4 Jul. people celebrate.", "On the fourth of July people celebrate."),
    ("It ended 31 Dec.", "It ended the thirty-first of December."),
    ("In the 1990s, music changed.", "In the nineteen nineties, music changed."),
    ("In the 1990's, music changed.", "In the nineteen nineties, music changed."),
    ("Hits of the '80s.", "Hits of the eighties."),
    ("He is in his 90s.", "He is in his nineties."),
    ("The 1900s and the 2000s.", "The nineteen hundreds and the two thousands."),
)

# Month and day must form a real date; anything else is read as plain numbers.
NOT_DATES = _cases(
    ("Invalid 13/45/2020 here.", "Invalid thirteen/forty-five/twenty twenty here."),
    ("Not 2/30/2020.", "Not two/thirty/twenty twenty."),
    ("Not 2024-13-45.", "Not twenty twenty-four-thirteen-forty-five."),
    ("On February 30.", "On February thirty."),
    ("February 29, 2023.", "February twenty-nine, twenty twenty-three."),
    ("The score was 3-2.", "The score was three-two."),
    ("Version 1.2.3 is out.", "Version one point two point three is out."),
    ("Python 3.11.4.", "Python three point eleven point four."),
    ("Meet at 10:30.", "Meet at ten thirty."),
    ("In July. 4 people came.", "In July. four people came."),
    ("In 2005 it rained.", "In two thousand and five it rained."),
)

MONTH_ABBREVIATIONS = [
    ("Jan", "January"), ("Feb", "February"), ("Mar", "March"), ("Apr", "April"),
    ("Jun", "June"), ("Jul", "July"), ("Aug", "August"), ("Sep", "September"),
    ("Sept", "September"), ("Oct", "October"), ("Nov", "November"), ("Dec", "December"),
]

MORE_MONEY = _cases(
    ("It costs ¥500.", "It costs five hundred yen."),
    ("It costs ¥1.", "It costs one yen."),
    ("It costs ₹250.", "It costs two hundred and fifty rupees."),
    ("It costs ₹1.", "It costs one rupee."),
    ("It costs ₹1.50.", "It costs one rupee and fifty paise."),
    ("It costs 20 USD.", "It costs twenty US dollars."),
    ("It costs 1 USD.", "It costs one US dollar."),
    ("It costs 20.50 USD.", "It costs twenty US dollars and fifty cents."),
    ("It costs 15 EUR.", "It costs fifteen euros."),
    ("It costs 1 EUR.", "It costs one euro."),
    ("It costs 30 GBP.", "It costs thirty pounds."),
    ("It costs 1,000 JPY.", "It costs one thousand yen."),
    ("It costs 250 INR.", "It costs two hundred and fifty rupees."),
    ("A deal of 5 million USD.", "A deal of five million US dollars."),
    ("It costs $20 USD.", "It costs twenty US dollars."),
    ("It costs £3.50.", "It costs three pounds and fifty pence."),
    ("It costs £0.01.", "It costs one penny."),
)

MORE_UNITS = _cases(
    ("It uses 5 kWh.", "It uses five kilowatt hours."),
    ("It uses 1 kWh.", "It uses one kilowatt hour."),
    ("Use 60 W here.", "Use sixty watts here."),
    ("Use 1 W here.", "Use one watt here."),
    ("Send 4 GB.", "Send four gigabytes."),
    ("Send 512 MB.", "Send five hundred and twelve megabytes."),
    ("Send 1 TB.", "Send one terabyte."),
    ("Mains is 50 Hz.", "Mains is fifty hertz."),
    ("Mains is 1 Hz.", "Mains is one hertz."),
    ("Sample at 44.1 kHz.", "Sample at forty-four point one kilohertz."),
    ("Wait 5 s.", "Wait five seconds."),
    ("Wait 1 s.", "Wait one second."),
    ("High 5s all round.", "High 5s all round."),
    ("Wait 10 min.", "Wait ten minutes."),
    ("Wait 1 min.", "Wait one minute."),
    ("Drive 2 h.", "Drive two hours."),
    ("Drive 1 h.", "Drive one hour."),
    ("It is 6 ft tall.", "It is six feet tall."),
    ("It is 1 ft long.", "It is one foot long."),
    ("It weighs 5 lb.", "It weighs five pounds."),
    ("It weighs 3 lbs.", "It weighs three pounds."),
    ("It weighs 1 lb.", "It weighs one pound."),
    ("Add 8 oz.", "Add eight ounces."),
    ("Add 1 oz.", "Add one ounce."),
    ("Walk 3 mi.", "Walk three miles."),
    ("Walk 1 mi.", "Walk one mile."),
    ("Drink 2 L.", "Drink two liters."),
    ("Drink 1 L.", "Drink one liter."),
    # "in" after a number is the word, not inches.
    ("Put 5 in the box.", "Put five in the box."),
    ("All 3 in a row.", "All three in a row."),
)

MORE_ABBREVIATIONS = _cases(
    ("Go to St. Louis.", "Go to Saint Louis."),
    ("Main St. is closed.", "Main St. is closed."),
    ("No. 5 is best.", "number five is best."),
    ("Ranked No. 1 today.", "Ranked number one today."),
    ("No. I refuse.", "No. I refuse."),
    ("Made in the U.S. today.", "Made in the U S today."),
    ("I live in the U.S.", "I live in the U S."),
    ("The U.S.A. is big.", "The U S A is big."),
    ("Meet at 10 a.m. tomorrow.", "Meet at ten a m tomorrow."),
    ("Meet at 3:30 p.m.", "Meet at three thirty p m."),
)

MIXED_SENTENCES = _cases(
    ("On Jul. 4, 2024 at 9:30 a.m., we paid $20 USD for 2 lbs of food in St. Louis.",
     "On July fourth, twenty twenty-four at nine thirty a m, we paid twenty US dollars for two "
     "pounds of food in Saint Louis."),
    ("In the 1990s, No. 1 hits sold 1,000 copies a day in the U.S.",
     "In the nineteen nineties, number one hits sold one thousand copies a day in the U S."),
    ("Download 2 GB by 12/31/2024 for ₹500, or wait 30 s.",
     "Download two gigabytes by December thirty-first, twenty twenty-four for five hundred "
     "rupees, or wait thirty seconds."),
    ("Charge it for 1 h: it draws 60 W and uses 1 kWh a week since 2005-03-01.",
     "Charge it for one hour: it draws sixty watts and uses one kilowatt hour a week since "
     "March first, two thousand and five."),
)


@pytest.mark.parametrize("text, expected", NUMBERS)
def test_numbers_are_read_as_words(text, expected):
    """Integers, thousands separators, decimals and negatives become words."""
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", YEARS)
def test_four_digit_numbers_in_year_range_are_read_as_years(text, expected):
    """1100-2099 read as years ("eighteen thirteen"); other four-digit numbers read plainly."""
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", ORDINALS)
def test_ordinals(text, expected):
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", TIMES)
def test_clock_times(text, expected):
    """h:mm reads as "three thirty", "seven oh five", "nine o'clock"."""
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", MONEY)
def test_money(text, expected):
    """Currency symbols become the currency's name, with cents and scale words."""
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", PERCENTAGES)
def test_percentages(text, expected):
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", UNITS)
def test_units(text, expected):
    """Unit abbreviations after a number are spelt out."""
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", SYMBOLS_AND_ABBREVIATIONS)
def test_symbols_and_abbreviations(text, expected):
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", MARKDOWN_AND_QUOTES)
def test_markdown_and_quotes_are_not_read_aloud(text, expected):
    """Markup disappears; list items and headings become sentences; links become their text."""
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", DATES)
def test_dates(text, expected):
    """Month names and ordinal days; ISO and US numeric dates read month first; decades."""
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", NOT_DATES)
def test_things_that_are_not_dates_are_read_as_numbers(text, expected):
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("short, month", MONTH_ABBREVIATIONS)
def test_month_abbreviations_with_or_without_period(short, month):
    assert normalise_for_speech(f"Due {short} 3.") == f"Due {month} third."
    assert normalise_for_speech(f"Due {short}. 3.") == f"Due {month} third."


@pytest.mark.parametrize("text, expected", MORE_MONEY)
def test_more_currencies_and_iso_codes(text, expected):
    """Yen and rupee symbols, ISO codes after the amount, pence for pounds."""
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", MORE_UNITS)
def test_more_units_singular_and_plural(text, expected):
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", MORE_ABBREVIATIONS)
def test_more_abbreviations(text, expected):
    """St. and No. only where they are Saint and number; U.S. and a.m. as spoken letters."""
    assert normalise_for_speech(text) == expected


@pytest.mark.parametrize("text, expected", MIXED_SENTENCES)
def test_sentences_mixing_several_kinds(text, expected):
    assert normalise_for_speech(text) == expected

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
    assert normalise_for_speech(text) == expected
