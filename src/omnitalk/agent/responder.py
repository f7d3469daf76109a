"""What answers a user turn. The session drives a Responder without knowing what is behind it.

`CascadeResponder` is the streaming cascade: LLM text deltas -> clauses -> speech normalisation
-> TTS -> audio, with the TTS of clause N overlapping the LLM writing clause N+1.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from omnitalk.agent.clauses import ClauseChunker, ClauseConfig
from omnitalk.agent.context import PromptTooLong, fit_prompt
from omnitalk.agent.speech_text import normalize_for_speech
from omnitalk.engines.base import LLM, TTS, ChatMessage, EngineError

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant. Your words are spoken aloud, so answer in one or two "
    "short, plain sentences. Never use lists, markdown, emojis or code."
)


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


class Responder(Protocol):
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


@dataclass
class CascadeConfig:
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    clauses: ClauseConfig = field(default_factory=ClauseConfig)


class CascadeResponder:
    def __init__(self, llm: LLM, tts: TTS, config: CascadeConfig | None = None) -> None:
        self.llm = llm
        self.tts = tts
        self.config = config or CascadeConfig()

    @property
    def sample_rate(self) -> int:
        return self.tts.sample_rate

    def warm_up(self) -> None:
        self.llm.warm_up([self._system(), ChatMessage("user", "Hello.")])
        for _ in self.tts.synthesize("Hello."):
            pass

    def _system(self, instructions: str | None = None) -> ChatMessage:
        return ChatMessage("system", instructions or self.config.system_prompt)

    def respond(
        self,
        history: list[ChatMessage],
        turn: UserTurn,
        sink: ReplySink,
        cancel: threading.Event,
        instructions: str | None = None,
    ) -> None:
        try:
            messages = fit_prompt(self._system(instructions), history,
                                  ChatMessage("user", turn.text), self.llm.count_tokens,
                                  self.llm.prompt_limit)
        except PromptTooLong as error:
            cancel.set()
            sink.failed("context_length_exceeded", str(error))
            return
        clauses: queue.Queue[str | None] = queue.Queue()
        speaker = threading.Thread(
            target=self._speak, args=(clauses, sink, cancel), name="tts", daemon=True
        )
        speaker.start()
        chunker = ClauseChunker(self.config.clauses)
        try:
            first = True
            for delta in self.llm.stream_chat(messages, cancel):
                if first:
                    sink.first_token()
                    first = False
                for clause in chunker.push(delta):
                    clauses.put(clause)
            if not cancel.is_set():
                clauses.put(chunker.flush())
        except EngineError as error:
            cancel.set()
            sink.failed("llm_error", str(error))
        finally:
            clauses.put(None)
            speaker.join()

    def _speak(
        self, clauses: queue.Queue[str | None], sink: ReplySink, cancel: threading.Event
    ) -> None:
        while (clause := clauses.get()) is not None:
            if cancel.is_set():
                continue  # drain without speaking
            try:
                spoken = normalize_for_speech(clause)
                if not any(ch.isalnum() for ch in spoken):
                    continue
                sink.clause(spoken)
                for samples in self.tts.synthesize(spoken):
                    if cancel.is_set():
                        break
                    sink.audio(samples, self.tts.sample_rate)
            except Exception as error:  # a TTS crash must end this reply, not the session
                cancel.set()
                sink.failed("tts_error", f"speech synthesis failed: {error}")
