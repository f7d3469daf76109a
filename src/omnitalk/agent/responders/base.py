"""What a responder is: the session hands it a user turn and a sink, and it streams the reply."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from omnitalk.engines.base import ChatMessage


@dataclass(frozen=True)
class UserTurn:
    audio: np.ndarray  # 16 kHz float32 mono
    text: str


class ReplySink(Protocol):
    """Where a responder delivers its reply; every call may come from a worker thread."""

    def first_token(self) -> None: ...

    def clause(self, text: str) -> None: ...

    def audio(self, samples: np.ndarray, sample_rate: int) -> None: ...

    def failed(self, code: str, message: str) -> None: ...

    def deadline(self) -> float:
        """When the reply's next audio is needed (`time.perf_counter()` seconds): the order in
        which sessions' LLM and TTS steps run (`engines/scheduler.py`)."""
        ...


class Responder(Protocol):
    # What the server reports as its model, e.g. "omnitalk-cascade".
    name: str
    # The system prompt a reply gets when the client sends none ("" if it takes none).
    default_instructions: str

    @property
    def sample_rate(self) -> int:
        """The rate of the reply audio it sends."""
        ...

    def warm_up(self) -> None: ...

    def respond(
        self,
        history: list[ChatMessage],
        turn: UserTurn,
        sink: ReplySink,
        cancel: threading.Event,
        instructions: str | None = None,
    ) -> None:
        """Blocks until the reply is complete, failed, or `cancel` is set.

        `instructions` replaces the responder's default system prompt for this reply.
        """
        ...
