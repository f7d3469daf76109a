"""Text as a word error rate compares it: lower case, numbers as words, no punctuation."""

from __future__ import annotations

import re

from omnitalk.text.speech import normalise_for_speech


def normalise_for_wer(text: str) -> str:
    """Lower case, numbers as words, no punctuation: how both sides are compared."""
    text = normalise_for_speech(text).lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    return " ".join(_join_letters(text.split()))


def _join_letters(words: list[str]) -> list[str]:
    """Spelled-out letters match the acronym heard or written: "u s" and "us", "a u s a" and
    "a usa" (a leading "a" or "i" in a run of three or more stays a word)."""
    out: list[str] = []
    run: list[str] = []
    for word in [*words, ""]:
        if len(word) == 1:
            run.append(word)
            continue
        if len(run) >= 3 and run[0] in ("a", "i"):
            out.append(run.pop(0))
        out += ["".join(run)] if len(run) >= 2 else run
        run = []
        if word:
            out.append(word)
    return out
