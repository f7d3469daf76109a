"""Turn LLM output into text a TTS voice reads well: no markdown, symbols and numbers as words."""

from __future__ import annotations

import re

from num2words import num2words

_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`]*)`")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_URL = re.compile(r"https?://\S+|www\.\S+")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~)(?=\S)(.+?)(?<=\S)\1")
_LINE_MARKUP = re.compile(r"^\s*(#{1,6}\s+|>\s*|[-*+•]\s+|\d+[.)]\s+)", re.MULTILINE)
_TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]+\|[\s:|-]*$", re.MULTILINE)
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f]")

_CURRENCY = {"$": ("dollar", "dollars"), "€": ("euro", "euros"), "£": ("pound", "pounds")}
_AMOUNT = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_MONEY = re.compile(r"([$€£])\s?(" + _AMOUNT + r")(\s?(?:million|billion|thousand))?")
_PERCENT = re.compile(r"(" + _AMOUNT + r")\s?%")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(?!\d)(?:\s?([ap]m\b))?", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?!\w)")
_UNITS = {
    "km": "kilometers", "kg": "kilograms", "cm": "centimeters", "mm": "millimeters",
    "m": "meters", "g": "grams", "mph": "miles per hour", "km/h": "kilometers per hour",
    "°C": "degrees Celsius", "°F": "degrees Fahrenheit", "ml": "milliliters", "l": "liters",
}
_UNIT = re.compile(
    r"(?<![\w.])(" + _AMOUNT + r")\s?("
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
}


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


def _money(match: re.Match) -> str:
    singular, plural = _CURRENCY[match.group(1)]
    amount = match.group(2).replace(",", "")
    scale = (match.group(3) or "").strip()
    if scale:
        return f"{_plain_number(amount)} {scale} {plural}"
    whole, _, fraction = amount.partition(".")
    dollars = int(whole)
    cents = int(fraction.ljust(2, "0")[:2]) if fraction else 0
    parts = []
    if dollars or not cents:
        parts.append(f"{num2words(dollars)} {singular if dollars == 1 else plural}")
    if cents:
        parts.append(f"{num2words(cents)} {'cent' if cents == 1 else 'cents'}")
    return " and ".join(parts)


def _unit(match: re.Match) -> str:
    amount, words = match.group(1), _UNITS[match.group(2)]
    if amount == "1":  # "one kilometer", "one degree Celsius"
        first, _, rest = words.partition(" ")
        words = " ".join(filter(None, [first.removesuffix("s"), rest]))
    return f"{amount} {words}"


def _time(match: re.Match) -> str:
    hours, minutes = int(match.group(1)), int(match.group(2))
    suffix = f" {match.group(3).lower()}" if match.group(3) else ""
    if minutes == 0:
        return f"{num2words(hours)} o'clock{suffix}"
    spoken = num2words(minutes) if minutes >= 10 else f"oh {num2words(minutes)}"
    return f"{num2words(hours)} {spoken}{suffix}"


def normalize_for_speech(text: str) -> str:
    """Markdown removed; money, percentages, units, times, ordinals, numbers, symbols as words."""
    text = strip_markdown(text)
    for short, long in _ABBREVIATIONS.items():
        if short not in _TITLES:
            # At a sentence end the abbreviation's period is also the full stop: keep one.
            text = re.sub(re.escape(short) + r"(?=\s+[A-Z]|\s*$)", long + ".", text)
        text = text.replace(short, long)
    text = _MONEY.sub(_money, text)
    text = _PERCENT.sub(lambda m: f"{_plain_number(m.group(1))} percent", text)
    text = _UNIT.sub(_unit, text)
    text = _TIME.sub(_time, text)
    text = _ORDINAL.sub(lambda m: num2words(int(m.group(1)), to="ordinal"), text)
    text = _NUMBER.sub(lambda m: _plain_number(m.group(0)), text)
    for symbol, word in _SYMBOLS.items():
        text = text.replace(symbol, word)
    text = re.sub(r"[*_`\\{}\[\]^\"“”]", " ", text)  # marks a voice does not read
    return re.sub(r"\s+", " ", text).strip()
