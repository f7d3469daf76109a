"""The streaming cascade responder: LLM text deltas -> clauses -> speech normalisation
-> TTS -> audio, with the TTS of clause N overlapping the LLM writing clause N+1.

Both compute in steps (a token, a sentence) ordered among sessions by when the reply's next
audio is needed (`sink.deadline()`, `engines/scheduler.py`).
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

from omnitalk.agent.clauses import ClauseChunker, ClauseConfig
from omnitalk.agent.context import PromptTooLong, fit_prompt
from omnitalk.agent.responders.base import ReplySink, UserTurn
from omnitalk.engines import registry
from omnitalk.engines.base import LLM, TTS, ChatMessage, EngineError
from omnitalk.engines.scheduler import CPU
from omnitalk.text.speech import normalise_for_speech

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant. Your words are spoken aloud, so answer in one or two "
    "short, plain sentences. Never use lists, markdown, emojis or code."
)


@dataclass
class CascadeConfig:
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    clauses: ClauseConfig = field(default_factory=ClauseConfig)


def load(config, voice: TTS) -> CascadeResponder:
    """The cascade of an assistant's config: its `llm` engine, spoken by `voice`."""
    return CascadeResponder(registry.create("llm", config.llm), voice, config.cascade)


class CascadeResponder:
    name = "omnitalk-cascade"

    def __init__(self, llm: LLM, tts: TTS, config: CascadeConfig | None = None) -> None:
        self.llm = llm
        self.tts = tts
        self.config = config or CascadeConfig()

    @property
    def default_instructions(self) -> str:
        return self.config.system_prompt

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
            for delta in self.llm.stream_chat(messages, cancel, deadline=sink.deadline):
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
                spoken = normalise_for_speech(clause)
                if not any(ch.isalnum() for ch in spoken):
                    continue
                sink.clause(spoken)
                for samples in CPU.steps(iter(self.tts.synthesize(spoken)), sink.deadline, "tts"):
                    if cancel.is_set():
                        break
                    sink.audio(samples, self.tts.sample_rate)
            except Exception as error:  # a TTS crash must end this reply, not the session
                cancel.set()
                sink.failed("tts_error", f"speech synthesis failed: {error}")
