"""Which conversations make spoken dialogue, and which do not, with the reason.

`screen` runs on the source text, before any rewriting: tasks that cannot be said aloud (code,
tables, emails, song lyrics, long-form writing, markdown-heavy answers), texts too long or
too full of symbols. `check` runs on the spoken text after rewriting and normalisation:
empty or cut-off rewrites, replies over the word limit, characters a voice cannot say, and a
pluggable safety check.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

from omnitalk.data.config import FilterConfig
from omnitalk.data.items import Drop, Item

_ASKS_FOR = r"\b(?:write|compose|draft|create|give me|make|generate|implement|code|sing)\b"
_REQUESTS = {
    "code": re.compile(_ASKS_FOR + r".{0,60}\b(?:function|script|program|class|code|query|"
                       r"regex|snippet|algorithm in)\b", re.IGNORECASE),
    "table": re.compile(_ASKS_FOR + r".{0,40}\btable\b", re.IGNORECASE),
    "email": re.compile(_ASKS_FOR + r".{0,40}\b(?:e-?mail|letter|memo)\b", re.IGNORECASE),
    "lyrics": re.compile(r"\blyrics\b|\b(?:write|compose|sing|recite|give me|make up)\b.{0,40}"
                         r"\b(?:poem|song|verses?|rap|haiku|limerick|sonnet)\b", re.IGNORECASE),
    "long_form": re.compile(_ASKS_FOR + r".{0,40}\b(?:essay|story|article|report|blog post|"
                            r"paragraphs|chapter|speech)\b", re.IGNORECASE),
}
_CODE = re.compile(r"```|^\s*(?:def |class |import |#include|function |public |SELECT |"
                   r"console\.log|print\()|[;{}]\s*$", re.MULTILINE)
_TABLE_ROW = re.compile(r"^\s*\|?.*\|.*\|", re.MULTILINE)
_GREETING = re.compile(r"^\s*(?:Dear|Hi|Hello|Subject:)\b[^\n]*,?\s*$", re.MULTILINE)
_SIGN_OFF = re.compile(r"\b(?:Best regards|Kind regards|Sincerely|Yours (?:truly|faithfully|"
                       r"sincerely)|Warm regards|Best wishes)\b", re.IGNORECASE)
_MARKDOWN = re.compile(r"^\s*(?:#{1,6} |[-*+] |\d+\. )|\*\*[^*]+\*\*", re.MULTILINE)
_SPOKEN_EN = re.compile(r"[A-Za-z' ,.!?;:()\-]+")
_SPOKEN_ZH = re.compile(r"[\u3400-\u9fff\uff0c\u3002\uff1f\uff01\u3001\uff1b\uff1a ,.!?]+")
_TRAILING = re.compile(r"[.!?\u3002\uff1f\uff01][\"')\]]*$")


def words(text: str) -> int:
    return len(text.split())


def _verse_lines(text: str) -> int:
    """Short lines that are not list items or headings: verse."""
    lines = [line for line in text.splitlines() if line.strip()]
    return sum(1 for line in lines if words(line) <= 10 and not _MARKDOWN.match(line))


def _unsuited(question: str, answer: str) -> str | None:
    """The kind of task this is when it is not a spoken one."""
    if _REQUESTS["code"].search(question) or _CODE.search(answer):
        return "code"
    if _REQUESTS["table"].search(question) or len(_TABLE_ROW.findall(answer)) >= 2:
        return "table"
    if _REQUESTS["email"].search(question) or (_GREETING.search(answer)
                                               and _SIGN_OFF.search(answer)):
        return "email"
    if _REQUESTS["lyrics"].search(question):
        return "lyrics"
    if _REQUESTS["long_form"].search(question) or (
            words(answer) > 150 and answer.count("\n\n") >= 2):
        return "long_form"
    if len(_MARKDOWN.findall(answer)) >= 2:
        return "markdown"
    if _verse_lines(answer) >= 4:
        return "lyrics"
    return None


def _symbol_share(text: str) -> float:
    if not text:
        return 0.0
    plain = sum(1 for ch in text if ch.isalnum() or ch.isspace() or ch in ".,!?'\"-:;()")
    return 1 - plain / len(text)


def screen(item: Item, config: FilterConfig) -> Item:
    """Source text that is no spoken conversation is dropped here, before any model runs."""
    for user, assistant in item.exchanges():
        if not user.text or not assistant.text:
            raise Drop("empty", "a turn has no text")
        kind = _unsuited(user.text, assistant.text)
        if kind:
            raise Drop(kind, user.text[:80])
        if words(user.text) > config.max_question_words:
            raise Drop("too_long", f"question of {words(user.text)} words")
        if words(assistant.text) > config.max_source_answer_words:
            raise Drop("too_long", f"answer of {words(assistant.text)} words")
        for turn in (user, assistant):
            share = _symbol_share(turn.text)
            if share > config.max_symbol_share:
                raise Drop("symbols", f"{share:.0%} symbols in a {turn.role} turn")
    return item


def load_safety_check(spec: str) -> Callable[[str, str], str | None] | None:
    """`module:function` -> the function; it takes (question, answer) and returns a reason."""
    if not spec:
        return None
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ValueError(f"safety check {spec!r} cannot be loaded ({error})") from None


def check(item: Item, config: FilterConfig, max_words: int, language: str = "en",
          safety: Callable[[str, str], str | None] | None = None) -> Item:
    """The spoken text is what a voice will say: whole sentences, short, sayable, safe."""
    allowed = _SPOKEN_ZH if language == "zh" else _SPOKEN_EN
    for user, assistant in item.exchanges():
        for turn in (user, assistant):
            spoken = turn.spoken.strip()
            if not spoken:
                raise Drop("empty", f"the {turn.role} turn's rewrite is empty")
            if not _TRAILING.search(spoken):
                raise Drop("truncated", f"the {turn.role} turn ends in {spoken[-20:]!r}")
            leftover = allowed.sub("", spoken)
            if leftover:
                raise Drop("unpronounceable", f"{leftover[:10]!r} in a {turn.role} turn")
        if language == "en" and words(assistant.spoken) > max_words:
            raise Drop("too_long", f"spoken reply of {words(assistant.spoken)} words")
        if safety is not None:
            reason = safety(user.spoken, assistant.spoken)
            if reason:
                raise Drop("unsafe", reason)
    return item
