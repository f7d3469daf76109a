"""Who decides that the user's turn is over: a silence timer (`vad`) or a model (`model`).

The session asks its policy at every pause of the user, once the turn so far is transcribed:

- `vad` never answers (None): the turn ends after `silence_ms` of silence, and speech over a
  reply cancels it after `barge_in_ms` (today's behaviour, unchanged).
- `model` asks the duplex state head (`omnitalk.duplex.state_head`): respond ends the turn
  at once, listen waits (a hard silence limit, `max_silence_ms`, is the backstop; over a reply,
  unfinished speech the user does not go on with is dropped), ignore drops the sound, stop ends
  a playing reply and starts none. Speech over a reply no longer cancels
  it by itself.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from omnitalk.agent.turns import TurnConfig

if TYPE_CHECKING:
    from omnitalk.duplex.state_head import Decision

log = logging.getLogger(__name__)

POLICIES = ("vad", "model")


@dataclass
class ModelPolicyConfig:
    head: str = ""  # a state head file; "" : the one packaged with omnitalk
    backbone: str = ""  # the frozen LM it reads with; "" : the packaged SmolLM2-135M
    respond_threshold: float = 0.5  # p(respond) that ends the turn
    # The backstop: this much silence ends a turn whatever the head says.
    max_silence_ms: int = 1500
    # Sounds this long are heard and judged (the VAD policy's minimum is min_speech_ms).
    min_speech_ms: int = 150


class TurnPolicy(Protocol):
    name: str
    # Speech over a playing reply does not cancel it: the policy judges it at its pause.
    judges_interruptions: bool

    def turn_config(self, turn: TurnConfig) -> TurnConfig:
        """The VAD turn detector's settings under this policy."""
        ...

    def decide(self, text: str, assistant_speaking: bool) -> Decision | None:
        """What to do at a pause after `text`; None leaves it to the silence timer."""
        ...


class VadPolicy:
    name = "vad"
    judges_interruptions = False

    def turn_config(self, turn: TurnConfig) -> TurnConfig:
        return turn

    def decide(self, text: str, assistant_speaking: bool) -> Decision | None:
        return None


class ModelPolicy:
    name = "model"
    judges_interruptions = True

    def __init__(self, classifier, config: ModelPolicyConfig,
                 lock: threading.Lock | None = None) -> None:
        self.classifier = classifier
        self.config = config
        # One decision at a time: the reader's cache is shared (by tuned copies too).
        self._lock = lock or threading.Lock()

    @classmethod
    def load(cls, config: ModelPolicyConfig) -> ModelPolicy:
        from omnitalk.duplex.state_head import StateClassifier

        return cls(StateClassifier.load(config.head, config.backbone), config)

    def tuned(self, respond_threshold: float, max_silence_ms: int) -> ModelPolicy:
        """The same head with other settings (one Realtime session's eagerness)."""
        config = dataclasses.replace(self.config, respond_threshold=respond_threshold,
                                     max_silence_ms=max_silence_ms)
        return ModelPolicy(self.classifier, config, self._lock)

    def turn_config(self, turn: TurnConfig) -> TurnConfig:
        return model_turn_config(turn, self.config)

    def decide(self, text: str, assistant_speaking: bool) -> Decision:
        with self._lock:
            return self.classifier.decide(text, assistant_speaking,
                                          self.config.respond_threshold)


def model_turn_config(turn: TurnConfig, config: ModelPolicyConfig) -> TurnConfig:
    """The VAD detector under the model policy: its silence limit is only the backstop, and
    short sounds are heard (over a reply, a 150 ms "yeah" must be heard to be ignored)."""
    return dataclasses.replace(turn, silence_ms=config.max_silence_ms,
                               min_speech_ms=config.min_speech_ms)


def load_policy(name: str, config: ModelPolicyConfig) -> TurnPolicy:
    """The named policy; `model` falls back to `vad`, with the reason logged, if its head or
    backbone cannot be loaded."""
    if name not in POLICIES:
        raise ValueError(f"turn policy must be one of {', '.join(POLICIES)}, not {name!r}")
    if name == "vad":
        return VadPolicy()
    try:
        return ModelPolicy.load(config)
    except Exception as error:  # a missing extra, a bad head file: the assistant still runs
        log.warning("turn policy 'model' is unavailable (%s: %s); deciding turns by silence "
                    "(vad) instead", type(error).__name__, error)
        return VadPolicy()
