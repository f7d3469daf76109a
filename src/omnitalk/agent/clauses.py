"""Cut a stream of LLM text deltas into clauses that a TTS voice can start speaking.

The first clause is cut as early as a comma allows, so the first audio comes quickly; later ones
wait for a sentence end (or a comma once they are long), so the voice keeps natural prosody.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_SENTENCE_END = re.compile(r"[.!?…]+[\"')\]]*(?=\s)|\n+")
_CLAUSE_END = re.compile(r"[,;:—]+(?=\s)")
_ABBREVIATION = re.compile(r"\b(?:[A-Z]|Mr|Mrs|Ms|Dr|St|vs|etc|e\.g|i\.e|approx)\.$")


@dataclass
class ClauseConfig:
    first_clause_min_words: int = 3
    clause_min_words: int = 8
    max_words: int = 30


class ClauseChunker:
    """Streaming state: push deltas, take finished clauses; `flush()` returns the remainder."""

    def __init__(self, config: ClauseConfig | None = None) -> None:
        self.config = config or ClauseConfig()
        self.reset()

    def reset(self) -> None:
        self._buffer = ""
        self._emitted = 0

    def push(self, delta: str) -> Iterator[str]:
        self._buffer += delta
        while (cut := self._find_cut()) is not None:
            clause, self._buffer = self._buffer[:cut].strip(), self._buffer[cut:].lstrip()
            if clause:
                self._emitted += 1
                yield clause

    def flush(self) -> str:
        clause, self._buffer = self._buffer.strip(), ""
        if clause:
            self._emitted += 1
        return clause

    def _find_cut(self) -> int | None:
        text = self._buffer
        for match in _SENTENCE_END.finditer(text):
            if match.group().startswith(".") and _ABBREVIATION.search(text[: match.end()]):
                continue
            if re.search(r"\d\.$", text[: match.end()]) and match.end() == len(text):
                continue  # "3." might still become "3.5"
            return match.end()
        min_words = (
            self.config.first_clause_min_words
            if self._emitted == 0
            else self.config.clause_min_words
        )
        for match in _CLAUSE_END.finditer(text):
            if len(text[: match.end()].split()) >= min_words:
                return match.end()
        words = text.split()
        if len(words) > self.config.max_words and text[-1].isspace():
            return len(text)
        return None
