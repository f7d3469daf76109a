"""Build the default assistant from config: engines loaded once, sessions made on demand."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from omnitalk.agent.events import Event
from omnitalk.agent.responder import CascadeResponder
from omnitalk.agent.session import Session
from omnitalk.config import AssistantConfig
from omnitalk.engines import registry


@dataclass
class Assistant:
    config: AssistantConfig
    asr: object
    responder: CascadeResponder
    load_seconds: dict[str, float]

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
            asr.transcribe(np.zeros(asr.sample_rate, np.float32))  # first call allocates
            responder.warm_up()
            seconds["warm_up"] = round(time.perf_counter() - start, 2)
        return cls(config, asr, responder, seconds)

    def new_session(self, on_event: Callable[[Event], None] | None = None) -> Session:
        """A fresh conversation; the VAD is per session because it carries recurrent state."""
        config = self.config
        config.session.turn.threshold = config.vad.threshold
        vad = registry.create("vad", config.vad)
        return Session(vad, self.asr, self.responder, config.session, on_event=on_event)
