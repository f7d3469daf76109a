"""Backends by name: config or CLI says `llm = "openai"`, the registry builds the engine."""

from __future__ import annotations

import importlib
from typing import Any

from omnitalk.engines.base import EngineError

# kind -> backend name -> "module:Class"; imported only when chosen.
BACKENDS: dict[str, dict[str, str]] = {
    "vad": {"silero": "omnitalk.engines.vad_silero:SileroVAD"},
    "asr": {"faster-whisper": "omnitalk.engines.asr_faster_whisper:FasterWhisperASR"},
    "llm": {
        "llama-cpp": "omnitalk.engines.llm_llama_cpp:LlamaCppLLM",
        "transformers": "omnitalk.engines.llm_transformers:TransformersLLM",
        "openai": "omnitalk.engines.llm_openai:OpenAICompatibleLLM",
    },
    "tts": {"piper": "omnitalk.engines.tts_piper:PiperTTS"},
}


def create(kind: str, config: Any) -> Any:
    """Build the `kind` engine named by `config.backend`."""
    choices = BACKENDS.get(kind)
    if choices is None:
        raise EngineError(f"unknown engine kind {kind!r}; known: {', '.join(BACKENDS)}")
    target = choices.get(config.backend)
    if target is None:
        raise EngineError(
            f"unknown {kind} backend {config.backend!r}; choose one of: {', '.join(choices)}"
        )
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)(config)
