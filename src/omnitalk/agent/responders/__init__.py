"""What answers a user turn: the streaming cascade or an end-to-end talker, built one way.

Each responder module has `load(config, voice)`, taking the assistant's whole config (an
`AssistantConfig`) and its TTS voice; a module is imported only when chosen, so the cascade
never loads torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from omnitalk.agent.responders.base import Responder
from omnitalk.engines.base import TTS

KINDS = ("cascade", "omni")  # module names in this package; `responder = "..."` in the config


def load(kind: str, config: Any, voice: TTS) -> Responder:
    if kind not in KINDS:
        raise ValueError(f"unknown responder {kind!r}; choose one of: {', '.join(KINDS)}")
    return importlib.import_module(f"{__name__}.{kind}").load(config, voice)
