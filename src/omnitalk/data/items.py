"""The record every stage reads and writes: one conversation, its turns, what was made of them.

Stages are functions `Item -> Item` that return a new item with more filled in, or raise `Drop`
with a short reason (a counter name in the final table) and a detail for the log.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field


class Drop(Exception):  # noqa: N818 - a stage's verdict, not an error
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    text: str  # as the source wrote it
    spoken: str = ""  # rewritten and normalised: what the voice says
    audio: str = ""  # WAV, relative to the build folder
    sample_rate: int = 0
    seconds: float = 0.0
    speaker: str = ""  # voice name, with "#id" for multi-speaker voices
    gender: str = ""
    style: dict = field(default_factory=dict)  # Piper length / noise scales used
    transcript: str = ""  # what ASR heard in the audio
    error_rate: float | None = None  # WER (en) or CER (zh) of the transcript
    features: str = ""  # user turns: Whisper encoder features (.npy), relative path
    frames: str = ""  # assistant turns: SNAC frames [n, 7] (.npy), relative path
    text_ids: tuple[int, ...] = ()  # the spoken text in the training tokenizer's ids


@dataclass(frozen=True)
class Item:
    id: str
    source: str
    turns: tuple[Turn, ...]
    expect: str = ""  # built-in sample: the reason it is seeded to be dropped for ("keep")
    error_rate: float | None = None  # over all its turns
    notes: tuple[str, ...] = ()  # what stages want counted without dropping (e.g. a fallback)

    @property
    def key(self) -> str:
        """The id as a safe file name (ids come from anywhere)."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", self.id)[:80]
        if safe != self.id:
            safe += "-" + hashlib.sha1(self.id.encode()).hexdigest()[:8]
        return safe

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Item:
        turns = tuple(Turn(**{**t, "text_ids": tuple(t.get("text_ids", ()))})
                      for t in data["turns"])
        return cls(**{**data, "turns": turns, "notes": tuple(data.get("notes", ()))})

    def with_turns(self, turns, **changes) -> Item:
        return dataclasses.replace(self, turns=tuple(turns), **changes)

    def exchanges(self) -> list[tuple[Turn, Turn]]:
        """(user, assistant) pairs in order."""
        return list(zip(self.turns[0::2], self.turns[1::2], strict=True))
