"""Build the default assistant from config: engines loaded once, sessions made on demand."""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from omnitalk.agent.events import Event
from omnitalk.agent.responder import CascadeResponder
from omnitalk.agent.session import Session
from omnitalk.bench.questions import speak
from omnitalk.config import AssistantConfig
from omnitalk.engines import registry
from omnitalk.engines.base import ASR


@dataclass
class Assistant:
    config: AssistantConfig
    asr: ASR
    responder: CascadeResponder
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

        asr = timed("asr", config.asr)
        llm = timed("llm", config.llm)
        tts = timed("tts", config.tts)
        responder = CascadeResponder(llm, tts, config.cascade)
        if warm_up:
            start = time.perf_counter()
            responder.warm_up()
            # The first transcription of real speech is slow (allocations): do it now, on two
            # threads at once so that both of the ASR engine's workers are warm.
            hello = speak(responder.tts, "Hello, how are you today?")
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(asr.transcribe, [hello, hello]))
            seconds["warm_up"] = round(time.perf_counter() - start, 2)
        return cls(config, asr, responder, seconds)

    def new_session(self, on_event: Callable[[Event], None] | None = None) -> Session:
        """A fresh conversation; the VAD is per session because it carries recurrent state."""
        vad = registry.create("vad", self.config.vad)
        # Each session gets its own copy: a client may change its turn-taking settings.
        config = copy.deepcopy(self.config.session)
        return Session(vad, self.asr, self.responder, config, on_event=on_event,
                       partial_slots=self.partial_slots)
