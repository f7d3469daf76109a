"""The assistant's whole configuration: dataclasses, loadable from a TOML file.

A TOML file mirrors the dataclasses: `[llm] backend = "openai"`, `[session.turn] silence_ms = 400`.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omnitalk.agent.responder import CascadeConfig
from omnitalk.agent.session import SessionConfig
from omnitalk.engines.base import ASRConfig, LLMConfig, TTSConfig, VADConfig
from omnitalk.omni.settings import OmniSettings

RESPONDERS = ("cascade", "omni")


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


class ConfigError(ValueError):
    pass


def read_toml(path: str | Path) -> dict[str, Any]:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML ({error})") from None


def load_config(path: str | Path | None = None) -> AssistantConfig:
    config = AssistantConfig()
    if path is None:
        return config
    apply_settings(config, read_toml(path), str(path))
    if config.responder not in RESPONDERS:
        raise ConfigError(f"{path}: responder must be one of {', '.join(RESPONDERS)}")
    if config.session.segment_s < 2:
        raise ConfigError(f"{path}: session.segment_s must be at least 2 (seconds of a piece)")
    if config.llm.max_tokens >= config.llm.context_tokens:
        raise ConfigError(f"{path}: llm.max_tokens must be less than llm.context_tokens (the "
                          "prompt needs the rest of the window)")
    return config


def apply_settings(target: Any, values: dict[str, Any], where: str) -> None:
    """Set a dataclass tree's fields from a TOML table, checking names and types."""
    fields = {f.name: f for f in dataclasses.fields(target)}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown setting {key!r}; known: {', '.join(fields)}")
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: [{key}] must be a table")
            apply_settings(current, value, f"{where}.{key}")
        elif current is not None and (
            isinstance(value, bool) != isinstance(current, bool)
            or not isinstance(value, type(current))
            and not (isinstance(current, float) and isinstance(value, int))
        ):
            raise ConfigError(
                f"{where}: {key} must be {type(current).__name__}, got {type(value).__name__}"
            )
        else:
            setattr(target, key, float(value) if isinstance(current, float) else value)
