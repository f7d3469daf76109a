"""Typed events out of a conversation session.

The server, the CLI and the tests all consume this one stream. `audio_time` is the position in
the input audio stream (seconds) at which the event was emitted; `turn` numbers user turns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Event:
    turn: int
    audio_time: float


@dataclass(frozen=True)
class SpeechStarted(Event):
    """The user has spoken for at least the minimum speech duration."""

    speech_start: float  # where the speech began in the input stream (s)


@dataclass(frozen=True)
class SpeechStopped(Event):
    """The user's turn ended: enough silence followed their speech."""

    speech_end: float  # where the speech ended in the input stream (s)


@dataclass(frozen=True)
class TranscriptPartial(Event):
    text: str  # the turn so far, as heard now
    committed: str = ""  # its start that will not change (the final transcript begins with it)


@dataclass(frozen=True)
class TranscriptFinal(Event):
    text: str


@dataclass(frozen=True)
class ReplyStarted(Event):
    pass


@dataclass(frozen=True)
class ReplyTextDelta(Event):
    """A clause of the reply, exactly as it is being spoken."""

    text: str


@dataclass(frozen=True)
class ReplyAudio(Event):
    audio: np.ndarray = field(repr=False)
    sample_rate: int


@dataclass(frozen=True)
class ReplyDone(Event):
    """Every clause of the reply has been synthesised and emitted."""

    text: str


@dataclass(frozen=True)
class ReplyCancelled(Event):
    """The reply stopped early; consumers drop any reply audio they still hold."""

    reason: str  # "barge-in", "error" or "cancelled"
    played_text: str  # what the user actually heard: the part kept in history
    played_seconds: float


@dataclass(frozen=True)
class ErrorEvent(Event):
    code: str  # "llm_error", "tts_error", "asr_error"
    message: str


@dataclass(frozen=True)
class TurnDecision(Event):
    """The turn policy's judgement of a pause (the `model` policy only)."""

    state: str  # "listen", "respond", "ignore" or "stop"
    text: str  # the transcript it judged
    assistant_speaking: bool
    probabilities: dict[str, float] = field(default_factory=dict)
