"""Written dialogue -> what people say: the question as a person would ask it aloud, the answer
as a short spoken reply.

Two ways, the second falling back on the first:
- rules: markdown and emoji stripped, the answer cut to its first whole sentences within the
  word limit (an answer whose first sentence is already too long cannot be said briefly);
- llm: any LLM slot (the packaged SmolLM2 or an OpenAI-compatible server) is asked for both.
  An empty or failed reply falls back on the rules; the fallback is noted on the item.
The result goes into each turn's `spoken` field; numbers and symbols become words later.
"""

from __future__ import annotations

import re
from dataclasses import replace

from omnitalk.data.items import Drop, Item
from omnitalk.engines.base import LLM, ChatMessage, EngineError
from omnitalk.text.speech import normalise_for_speech, strip_markdown

_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(])")
_QUESTION_START = re.compile(r"^(?:who|what|when|where|why|how|which|is|are|can|could|do|does|"
                             r"did|will|would|should)\b", re.IGNORECASE)

ASK_PROMPT = (
    "Rewrite the user's message the way a person would say it out loud to a voice assistant: "
    "plain spoken English, one or two sentences, no lists, no symbols, no markdown, same "
    "meaning. Reply with the rewritten message only."
)
ANSWER_PROMPT = (
    "You write the spoken replies of a voice assistant. Rewrite the answer below as a reply "
    "of at most {max_words} words that a person would say aloud: one or two plain sentences, "
    "no lists, no markdown, no symbols, keeping the key facts. Reply with the spoken reply only."
)


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", strip_markdown(text)).strip()


def _finish(text: str, question: bool) -> str:
    if text and text[-1] not in ".!?":
        text += "?" if question and _QUESTION_START.match(text) else "."
    return text


def rules_question(text: str) -> str:
    plain = _plain(text)
    if text.rstrip()[-1:] not in ".!?":  # strip_markdown ended the bare line with a period
        plain = plain.rstrip(".")
    return _finish(plain, question=True)


def rules_answer(text: str, max_words: int) -> str:
    """The answer's first whole sentences that fit in `max_words`."""
    kept: list[str] = []
    for sentence in _SENTENCE.split(_plain(text)):
        if len(" ".join([*kept, sentence]).split()) > max_words:
            break
        kept.append(sentence)
    if not kept:
        raise Drop("too_long", f"the answer's first sentence is over {max_words} words")
    return _finish(" ".join(kept), question=False)


def rewrite_rules(item: Item, max_words: int) -> Item:
    turns = [replace(t, spoken=rules_question(t.text) if t.role == "user"
                     else rules_answer(t.text, max_words)) for t in item.turns]
    return item.with_turns(turns)


def _ask(llm: LLM, system: str, user: str) -> str:
    text = "".join(llm.stream_chat([ChatMessage("system", system), ChatMessage("user", user)]))
    return re.sub(r"\s+", " ", text).strip().strip('"')


def _content_words(text: str) -> set[str]:
    """Words of four letters or more, with numbers and symbols said as words first."""
    spoken = normalise_for_speech(text).lower()
    return {w for w in re.findall(r"[a-z]+", spoken) if len(w) >= 4}


def faithful(rewrite: str, source: str, share: float = 0.5) -> bool:
    """Most of the rewrite's content words come from the source: nothing was made up.

    A crude guard, but small LLMs answer the question instead of rewriting it, or invent
    facts (the packaged SmolLM2-135M does both): those rewrites are replaced by the rules'.
    """
    words = _content_words(rewrite)
    return not words or len(words & _content_words(source)) >= share * len(words)


def rewrite_llm(item: Item, llm: LLM, max_words: int) -> Item:
    """Each turn through the LLM; a turn it cannot rewrite well falls back on the rules."""
    turns, notes = [], list(item.notes)
    question = ""
    for turn in item.turns:
        try:
            if turn.role == "user":
                question = turn.text
                spoken = _ask(llm, ASK_PROMPT, turn.text)
            else:
                spoken = _ask(llm, ANSWER_PROMPT.format(max_words=max_words),
                              f"Question: {question}\nAnswer: {turn.text}")
        except EngineError:
            spoken = ""
        lost_question = turn.text.rstrip().endswith("?") and not spoken.endswith("?")
        if not spoken or lost_question or not faithful(spoken, f"{question} {turn.text}"):
            notes.append("rewrite:llm_fallback" if not spoken else "rewrite:llm_unfaithful")
            spoken = (rules_question(turn.text) if turn.role == "user"
                      else rules_answer(turn.text, max_words))
        turns.append(replace(turn, spoken=spoken))
    return item.with_turns(turns, notes=tuple(notes))
