"""Turn LLM output into text a TTS voice reads well: no markdown, symbols and numbers as words."""

from __future__ import annotations

import re
from datetime import date

from num2words import num2words

_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+|www\.\S+")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")
_LINE_MARKUP = re.compile(r"^\s*(#{1,6}\s+|>\s*|[-*+•]\s+|\d+[.)]\s+)", re.MULTILINE)
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]+\|[\s:|-]*$", re.MULTILINE)
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]")

# Main unit singular and plural, then the hundredth unit ("" where cents are not spoken).
_CURRENCY = {
    "$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents"),
    "£": ("pound", "pounds", "penny", "pence"), "¥": ("yen", "yen", "", ""),
    "₹": ("rupee", "rupees", "paisa", "paise"),
    "USD": ("US dollar", "US dollars", "cent", "cents"), "EUR": ("euro", "euros", "cent", "cents"),
    "GBP": ("pound", "pounds", "penny", "pence"), "JPY": ("yen", "yen", "", ""),
    "INR": ("rupee", "rupees", "paisa", "paise"),
}
_AMOUNT = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_SCALE = r"(\s?(?:thousand|million|billion|trillion))?"
_CODE = r"(USD|EUR|GBP|JPY|INR)\b"
# "$20 USD" names the currency twice: the code, the more specific, is the one read.
_MONEY = re.compile(r"([$€£¥₹])\s?(" + _AMOUNT + r")" + _SCALE + r"(?:\s?" + _CODE + r")?")
_CODE_MONEY = re.compile(r"(?<![\w.])(" + _AMOUNT + r")" + _SCALE + r"\s?" + _CODE)
_PERCENT = re.compile(r"(" + _AMOUNT + r")\s?%")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(?!\d)(?:\s?([ap]m\b))?", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\w)")
# No "in": after a number it is far more often the word than inches ("5 in the box").
_UNITS = {
    "km": "kilometers", "kg": "kilograms", "cm": "centimeters", "mm": "millimeters",
    "m": "meters", "g": "grams", "mph": "miles per hour", "km/h": "kilometers per hour",
    "°C": "degrees Celsius", "°F": "degrees Fahrenheit", "ml": "milliliters", "l": "liters",
    "L": "liters", "kWh": "kilowatt hours", "kW": "kilowatts", "W": "watts",
    "TB": "terabytes", "GB": "gigabytes", "MB": "megabytes", "kHz": "kilohertz", "Hz": "hertz",
    "s": "seconds", "sec": "seconds", "min": "minutes", "mins": "minutes", "h": "hours",
    "hr": "hours", "hrs": "hours", "ft": "feet", "lb": "pounds", "lbs": "pounds", "oz": "ounces",
    "mi": "miles",
}
_SINGULAR = {"feet": "foot", "kilowatt hours": "kilowatt hour"}  # not just the plural less "s"
# A bare "s" is seconds only after a space: "5s" is a plural ("high 5s").
_UNIT = re.compile(
    r"(?<![\w.])(" + _AMOUNT + r")(?:\s|(?!s\b))("
    + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
    + r")\b"
)
_SYMBOLS = {
    "&": " and ", "+": " plus ", "=": " equals ", "@": " at ", "°": " degrees ",
    "#": " number ", "×": " times ", "~": " about ", "<": " less than ", ">": " more than ",
}
_TITLES = {"Dr.", "Mr.", "Mrs."}  # always followed by a name, never a sentence end
_ABBREVIATIONS = {
    "e.g.": "for example", "i.e.": "that is", "etc.": "et cetera", "vs.": "versus",
    "Dr.": "Doctor", "Mr.": "Mister", "Mrs.": "Missus", "approx.": "approximately",
    # "U.S.A." before "U.S.", which it contains.
    "U.S.A.": "U S A", "U.S.": "U S", "U.K.": "U K", "a.m.": "a m", "p.m.": "p m",
}
# "St." is Saint only before a name ("St. Louis"); "No." is number only before a number.
_SAINT = re.compile(r"\bSt\.(?=\s?[A-Z])")
_NUMBER_SIGN = re.compile(r"\bNo\.\s?(?=\d)")

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)
_FULL_MONTH = "|".join(_MONTHS)
_SHORT_MONTH = r"(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)"
_YEAR = r"(1[1-9]\d\d|20\d\d)"  # the range _plain_number reads as a year
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_DATE_END = r"(?![\w:/-]|[.,]\d)"  # not part of a time, range, fraction or longer number
# "July 20, 1969", "Jul. 4th", "July 1969". A full name takes no period: "in July. 4 came".
_MONTH_FIRST = re.compile(
    rf"\b({_FULL_MONTH}|{_SHORT_MONTH}\.?)\s+(?:{_DAY}(?:,?\s+{_YEAR})?|{_YEAR}){_DATE_END}"
)
# "20 July 1969", "the 4th of July". A short month's period stays where it may end the sentence.
_DAY_FIRST = re.compile(
    rf"(?:\b([Tt]he)\s+)?(?<![\w.,/:-]){_DAY}\s+(?:of\s+)?"
    rf"({_FULL_MONTH}|{_SHORT_MONTH}(?:\.(?!\s+[A-Z]|\s*$))?)(?![a-z])"
    rf"(?:,?\s+{_YEAR}{_DATE_END})?"
)
_ISO_DATE = re.compile(rf"(?<![\w.-]){_YEAR}-(\d\d)-(\d\d)(?![\w-])")
_US_DATE = re.compile(rf"(?<![\w./-])(\d{{1,2}})/(\d{{1,2}})/{_YEAR}(?![\w/]|\.\d)")
# "the 1990s", "1990's", "the '90s".
_DECADE = re.compile(r"(?<![\w.])['’]?((?:1[1-9]|20)\d0|[1-9]0)['’]?s\b")
# "3.11.4" (a version, an address): each part a number; as a decimal it would leave ".4".
_DOTTED = re.compile(r"(?<![\w.])\d+(?:\.\d+){2,}(?!\w|\.\d)")


def strip_markdown(text: str) -> str:
    text = _CODE_BLOCK.sub(" ", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _URL.sub("a link", text)
    text = _TABLE_RULE.sub("", text)
    text = _LINE_MARKUP.sub("", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = text.replace("|", ", ")
    # Each remaining line (a heading, a list item) becomes its own sentence when read aloud.
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = " ".join(line if line.rstrip("\"')]")[-1:] in ".!?:;," else line + "." for line in lines)
    return _EMOJI.sub("", text)


def _plain_number(token: str) -> str:
    if token.startswith("-"):
        return "minus " + _plain_number(token[1:])
    is_year = len(token) == 4 and token.isdigit() and 1100 <= int(token) <= 2099
    token = token.replace(",", "")
    if "." in token:
        return num2words(float(token))
    return num2words(int(token), to="year") if is_year else num2words(int(token))


def _say_money(amount: str, scale: str | None, currency: str) -> str:
    singular, plural, minor, minors = _CURRENCY[currency]
    amount = amount.replace(",", "")
    scale = (scale or "").strip()
    if scale:
        return f"{_plain_number(amount)} {scale} {plural}"
    if not minor:
        return f"{_plain_number(amount)} {singular if amount == '1' else plural}"
    whole, _, fraction = amount.partition(".")
    units = int(whole)
    cents = int(fraction.ljust(2, "0")[:2]) if fraction else 0
    parts = []
    if units or not cents:
        parts.append(f"{num2words(units)} {singular if units == 1 else plural}")
    if cents:
        parts.append(f"{num2words(cents)} {minor if cents == 1 else minors}")
    return " and ".join(parts)


def _money(match: re.Match) -> str:
    return _say_money(match.group(2), match.group(3), match.group(4) or match.group(1))


def _code_money(match: re.Match) -> str:
    return _say_money(match.group(1), match.group(2), match.group(3))


def _unit(match: re.Match) -> str:
    amount, words = match.group(1), _UNITS[match.group(2)]
    if amount == "1":  # "one kilometer", "one degree Celsius", "one foot"
        first, _, rest = words.partition(" ")
        words = _SINGULAR.get(words) or " ".join(filter(None, [first.removesuffix("s"), rest]))
    return f"{amount} {words}"


def _valid_date(year: str | None, month: int, day: int) -> bool:
    try:
        date(int(year or 2000), month, day)  # with no year, a leap year allows February 29
    except ValueError:
        return False
    return True


def _month(name: str) -> int:
    return next(i for i, full in enumerate(_MONTHS, 1) if full.startswith(name[:3]))


def _month_day_year(month: int, day: int | None, year: str | None) -> str:
    """Month first: "July twentieth, nineteen sixty-nine", "July nineteen sixty-nine"."""
    spoken = _MONTHS[month - 1]
    if day:
        spoken += " " + num2words(day, to="ordinal") + ("," if year else "")
    return spoken + (" " + num2words(int(year), to="year") if year else "")


def _month_first(match: re.Match) -> str:
    month, day, year = _month(match.group(1)), match.group(2), match.group(3) or match.group(4)
    if day and not _valid_date(year, month, int(day)):
        return match.group(0)
    return _month_day_year(month, int(day) if day else None, year)


def _day_first(match: re.Match) -> str:
    the, day, name, year = match.groups()
    month = _month(name)
    if not _valid_date(year, month, int(day)):
        return match.group(0)
    spoken = f"{the or 'the'} {num2words(int(day), to='ordinal')} of {_MONTHS[month - 1]}"
    return spoken + (" " + num2words(int(year), to="year") if year else "")


def _numeric_date(match: re.Match, year: str, month: str, day: str) -> str:
    if not _valid_date(year, int(month), int(day)):
        return match.group(0)
    return _month_day_year(int(month), int(day), year)


def _decade(match: re.Match) -> str:
    number = match.group(1)
    spoken = num2words(int(number), to="year" if len(number) == 4 else "cardinal")
    return spoken[:-1] + "ies" if spoken.endswith("y") else spoken + "s"


def _dates(text: str) -> str:
    text = _ISO_DATE.sub(lambda m: _numeric_date(m, *m.group(1, 2, 3)), text)
    text = _US_DATE.sub(lambda m: _numeric_date(m, *m.group(3, 1, 2)), text)
    text = _DAY_FIRST.sub(_day_first, text)
    text = _MONTH_FIRST.sub(_month_first, text)
    return _DECADE.sub(_decade, text)


def _dotted(match: re.Match) -> str:
    return " point ".join(num2words(int(part)) for part in match.group(0).split("."))


def _time(match: re.Match) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    suffix = f" {match.group(3).lower()}" if match.group(3) else ""
    if minutes == 0:
        return f"{num2words(hours)} o'clock{suffix}"
    spoken = num2words(minutes) if minutes >= 10 else f"oh {num2words(minutes)}"
    return f"{num2words(hours)} {spoken}{suffix}"


def normalise_for_speech(text: str) -> str:
    """Markdown removed; money, dates, percentages, units, times, numbers, symbols as words."""
    text = strip_markdown(text)
    for short, long in _ABBREVIATIONS.items():
        if short not in _TITLES:
            # At a sentence end the abbreviation's period is also the full stop: keep one.
            text = re.sub(re.escape(short) + r"(?=\s+[A-Z]|\s*$)", long + ".", text)
        text = text.replace(short, long)
    text = _SAINT.sub("Saint", text)
    text = _NUMBER_SIGN.sub("number ", text)
    text = _MONEY.sub(_money, text)
    text = _CODE_MONEY.sub(_code_money, text)
    text = _dates(text)
    text = _PERCENT.sub(lambda m: f"{_plain_number(m.group(1))} percent", text)
    text = _UNIT.sub(_unit, text)
    text = _TIME.sub(_time, text)
    text = _ORDINAL.sub(lambda m: num2words(int(m.group(1)), to="ordinal"), text)
    text = _DOTTED.sub(_dotted, text)
    text = _NUMBER.sub(lambda m: _plain_number(m.group(0)), text)
    for symbol, word in _SYMBOLS.items():
        text = text.replace(symbol, word)
    text = re.sub(r"[*_`\\{}\[\]^\"“”]", " ", text)  # marks a voice does not read
    return re.sub(r"\s+", " ", text).strip()
