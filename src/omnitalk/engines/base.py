"""The small interfaces every engine backend implements, and their configs.

A session talks to engines only through these protocols, so a backend can be swapped by name
(see `registry.py`) without the agent noticing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class EngineError(RuntimeError):
    """An engine failed in a way the user can act on (missing model, dead endpoint...)."""


@dataclass
class VADConfig:
    # The speech-probability threshold is turn-taking policy: see agent.turns.TurnConfig.
    backend: str = "silero"


@dataclass
class ASRConfig:
    backend: str = "faster-whisper"
    # A CTranslate2 Whisper folder; empty means the packaged Whisper tiny.en.
    model: str = ""
    compute_type: str = "int8"
    beam_size: int = 1
    language: str = "en"
    threads: int = 2
    # The shortest window audio is encoded in (faster-whisper always uses Whisper's 30 s): the
    # encoder's cost grows with the window, and a turn is usually a few seconds. 30: stock.
    window_s: float = 10.0


@dataclass
class LLMConfig:
    backend: str = "llama-cpp"
    # llama-cpp: a .gguf file; transformers: an HF folder or a .gguf file; openai: the model name.
    # Empty means the packaged SmolLM2-135M-Instruct (local backends only).
    model: str = ""
    base_url: str = "http://127.0.0.1:8080/v1"
    api_key: str = ""
    max_tokens: int = 96
    temperature: float = 0.2
    context_tokens: int = 2048
    threads: int = 2
    timeout_s: float = 30.0
    # llama-cpp: replies decoded together in one batch, each a sequence of its own in one KV
    # cache of parallel x context_tokens; more wait. `serve` raises it to --max-sessions.
    parallel: int = 1


@dataclass
class TTSConfig:
    backend: str = "piper"
    # A Piper .onnx voice; empty means the packaged en_US-joe-medium.
    voice: str = ""
    length_scale: float = 1.0
    volume: float = 0.8
    # Steps run one at a time (engines/scheduler.py), so a sentence may take both cores: 2 threads
    # synthesised in 0.53x the time of 1 here (RTF 0.097 -> 0.051).
    threads: int = 2


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user" or "assistant"
    content: str


class VAD(Protocol):
    sample_rate: int
    frame_size: int

    def speech_probability(self, frame: np.ndarray) -> float:
        """Probability that this frame (exactly `frame_size` samples) is speech."""
        ...

    def reset(self) -> None: ...

    def fork(self) -> VAD:
        """A new stream, in its initial state, over the same loaded model."""
        ...


class ASR(Protocol):
    sample_rate: int

    def transcribe(self, audio: np.ndarray, prefix: str = "", context: str = "") -> str:
        """Text of 16 kHz float32 mono `audio`; `prefix` is text already known to start it,
        `context` the words said just before it (a hint, not part of the result)."""
        ...


class LLM(Protocol):
    @property
    def prompt_limit(self) -> int:
        """Tokens a prompt may take: the context window less the room kept for the reply."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens `text` takes in a prompt (exact where the backend can tell, else an estimate
        on the high side)."""
        ...

    def stream_chat(
        self, messages: list[ChatMessage], cancel: threading.Event | None = None,
        max_tokens: int | None = None, deadline: Callable[[], float] | None = None,
    ) -> Iterator[str]:
        """Yields text deltas of the assistant's reply; stops early once `cancel` is set.
        `deadline()` says when the next words are needed (`time.perf_counter()` seconds); a
        backend that computes on this machine runs its steps in that order among sessions
        (`engines/scheduler.py`), a remote one ignores it."""
        ...


class TTS(Protocol):
    sample_rate: int

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        """Yields float32 mono audio at `sample_rate`, piece by piece as it is ready."""
        ...
