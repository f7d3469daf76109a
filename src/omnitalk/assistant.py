"""The assistant: its configuration, and the engines loaded once from it, making sessions on demand.

A TOML file (`--config assistant.toml`) mirrors `AssistantConfig`: `[llm] backend = "openai"`,
`[session.turn] silence_ms = 400`, `turn_policy = "model"`, `[turn_model] max_silence_ms = 1200`.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from omnitalk.agent import responders
from omnitalk.agent.events import Event
from omnitalk.agent.responders.base import Responder
from omnitalk.agent.responders.cascade import CascadeConfig
from omnitalk.agent.session import Session, SessionConfig
from omnitalk.agent.turn_policy import (
    POLICIES,
    ModelPolicy,
    ModelPolicyConfig,
    TurnPolicy,
    VadPolicy,
    load_policy,
)
from omnitalk.config_file import ConfigError, apply_settings, read_toml
from omnitalk.engines import registry
from omnitalk.engines.base import ASR, TTS, VAD, ASRConfig, LLMConfig, TTSConfig, VADConfig
from omnitalk.engines.speak import speak
from omnitalk.omni.settings import OmniSettings


@dataclass
class AssistantConfig:
    # "cascade": VAD -> ASR -> LLM -> TTS; "omni": an end-to-end talker answers from the audio.
    responder: str = "cascade"
    vad: VADConfig = field(default_factory=VADConfig)
    asr: ASRConfig = field(default_factory=ASRConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    tts: TTSConfig = field(default_factory=TTSConfig)
    session: SessionConfig = field(default_factory=SessionConfig)
    cascade: CascadeConfig = field(default_factory=CascadeConfig)
    omni: OmniSettings = field(default_factory=OmniSettings)
    # Who ends a turn: "vad" (silence_ms of silence) or "model" (the duplex state head).
    turn_policy: str = "vad"
    turn_model: ModelPolicyConfig = field(default_factory=ModelPolicyConfig)


def load_config(path: str | Path | None = None) -> AssistantConfig:
    config = AssistantConfig()
    if path is None:
        return config
    apply_settings(config, read_toml(path), str(path))
    if config.responder not in responders.KINDS:
        raise ConfigError(f"{path}: responder must be one of {', '.join(responders.KINDS)}")
    if config.turn_policy not in POLICIES:
        raise ConfigError(f"{path}: turn_policy must be one of {', '.join(POLICIES)}")
    if config.session.segment_s < 2:
        raise ConfigError(f"{path}: session.segment_s must be at least 2 (seconds of a piece)")
    if not 0 < config.session.commit_s <= config.session.segment_s:
        raise ConfigError(f"{path}: session.commit_s must be more than 0 and at most segment_s "
                          "(seconds of a committed piece)")
    if config.llm.max_tokens >= config.llm.context_tokens:
        raise ConfigError(f"{path}: llm.max_tokens must be less than llm.context_tokens (the "
                          "prompt needs the rest of the window)")
    if config.llm.parallel < 1:
        raise ConfigError(f"{path}: llm.parallel must be at least 1 (replies written at once)")
    return config


@dataclass
class Assistant:
    config: AssistantConfig
    vad: VAD  # every session forks its own stream from it
    asr: ASR
    responder: Responder
    voice: TTS  # speaks demo questions and warm-ups (and the replies, in the cascade)
    load_seconds: dict[str, float]
    # Shared by every session: the state head is loaded once.
    policy: TurnPolicy = field(default_factory=VadPolicy)
    # One partial transcription at a time across sessions: finals keep the ASR's other worker.
    partial_slots: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(1))
    # The state head for sessions that ask for it (Realtime `semantic_vad`) under a vad
    # server: loaded on the first request; None once it failed to load.
    _model_policy: ModelPolicy | None = field(default=None, repr=False)
    _model_policy_tried: bool = field(default=False, repr=False)
    _model_policy_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def model_policy(self) -> ModelPolicy | None:
        """The `model` turn policy (blocking: the first call may load the head for seconds);
        None, with the reason logged once, if it cannot be loaded."""
        if isinstance(self.policy, ModelPolicy):
            return self.policy
        with self._model_policy_lock:
            if not self._model_policy_tried:
                self._model_policy_tried = True
                loaded = load_policy("model", self.config.turn_model)
                self._model_policy = loaded if isinstance(loaded, ModelPolicy) else None
            return self._model_policy

    @classmethod
    def load(cls, config: AssistantConfig | None = None, warm_up: bool = True) -> Assistant:
        config = config or AssistantConfig()
        seconds: dict[str, float] = {}

        def timed(step: str, load: Callable[[], object]):
            start = time.perf_counter()
            loaded = load()
            seconds[step] = round(time.perf_counter() - start, 2)
            return loaded

        vad = timed("vad", lambda: registry.create("vad", config.vad))
        asr = timed("asr", lambda: registry.create("asr", config.asr))
        tts = timed("tts", lambda: registry.create("tts", config.tts))
        responder = timed(config.responder,
                          lambda: responders.load(config.responder, config, tts))
        policy = timed(f"turn_policy_{config.turn_policy}",
                       lambda: load_policy(config.turn_policy, config.turn_model))
        if warm_up:
            start = time.perf_counter()
            responder.warm_up()
            # The first transcription of real speech is slow (allocations): do it now, on two
            # threads at once so that both of the ASR engine's workers are warm.
            hello = speak(tts, "Hello, how are you today?")
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(asr.transcribe, [hello, hello]))
            seconds["warm_up"] = round(time.perf_counter() - start, 2)
        return cls(config, vad, asr, responder, tts, seconds, policy)

    def new_session(self, on_event: Callable[[Event], None] | None = None,
                    name: str = "session") -> Session:
        """A fresh conversation with its own VAD state over the shared models."""
        # Each session gets its own copy: a client may change its turn-taking settings.
        config = copy.deepcopy(self.config.session)
        return Session(self.vad.fork(), self.asr, self.responder, config, on_event=on_event,
                       partial_slots=self.partial_slots, name=name, policy=self.policy)
