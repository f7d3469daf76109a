"""Build the default assistant from config: engines loaded once, sessions made on demand."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from omnitalk.agent.events import Event
from omnitalk.agent.responder import CascadeResponder, Responder
from omnitalk.agent.session import Session
from omnitalk.bench.questions import speak
from omnitalk.config import AssistantConfig
from omnitalk.engines import registry
from omnitalk.engines.base import ASR, TTS, VAD


@dataclass
class Assistant:
    config: AssistantConfig
    vad: VAD  # every session forks its own stream from it
    asr: ASR
    responder: Responder
    voice: TTS  # speaks demo questions and warm-ups (and the replies, in the cascade)
    load_seconds: dict[str, float]
    # One partial transcription at a time across sessions: finals keep the ASR's other worker.
    partial_slots: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(1))

    @classmethod
    def load(cls, config: AssistantConfig | None = None, warm_up: bool = True) -> Assistant:
        config = config or AssistantConfig()
        seconds: dict[str, float] = {}

        def timed(kind: str, engine_config):
            start = time.perf_counter()
            engine = registry.create(kind, engine_config)
            seconds[kind] = round(time.perf_counter() - start, 2)
            return engine

        vad = timed("vad", config.vad)
        asr = timed("asr", config.asr)
        tts = timed("tts", config.tts)
        if config.responder == "omni":
            from omnitalk.omni.inference import OmniInference
            from omnitalk.omni.responder import OmniResponder

            start = time.perf_counter()
            voice = None if config.omni.speak else tts
            responder: Responder = OmniResponder(OmniInference.load(config.omni), voice)
            seconds["omni"] = round(time.perf_counter() - start, 2)
        else:
            responder = CascadeResponder(timed("llm", config.llm), tts, config.cascade)
        if warm_up:
            start = time.perf_counter()
            responder.warm_up()
            # The first transcription of real speech is slow (allocations): do it now, on two
            # threads at once so that both of the ASR engine's workers are warm.
            hello = speak(tts, "Hello, how are you today?")
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(asr.transcribe, [hello, hello]))
            seconds["warm_up"] = round(time.perf_counter() - start, 2)
        return cls(config, vad, asr, responder, tts, seconds)

    def new_session(self, on_event: Callable[[Event], None] | None = None,
                    name: str = "session") -> Session:
        """A fresh conversation with its own VAD state over the shared models."""
        # Each session gets its own copy: a client may change its turn-taking settings.
        config = copy.deepcopy(self.config.session)
        return Session(self.vad.fork(), self.asr, self.responder, config, on_event=on_event,
                       partial_slots=self.partial_slots, name=name)
