"""What a Realtime client may set with `session.update`, read and validated.

Both the beta shape (`input_audio_format`, top-level `turn_detection`, `voice`) and the GA shape
(`session.audio.input.format`, `session.audio.input.turn_detection`, ...) are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omnitalk.server.wire import MAX_INSTRUCTIONS, ProtocolError

SUPPORTED_RATES = range(8000, 48001)
# `semantic_vad` is answered by the duplex state head (turn policy `model`); its eagerness sets
# the head's respond threshold and the silence backstop. The thresholds are points of the
# `eval duplex` sweep (docs/duplex.md): 0.8 ended 9 % of turns early, 0.5 14 %, 0.35 15 %,
# each a few ms sooner. Without a head, eagerness picks how long a silence ends the turn.
EAGERNESS_MODEL = {"low": (0.8, 3000), "medium": (0.5, 1500), "auto": (0.5, 1500),
                   "high": (0.35, 800)}
EAGERNESS_SILENCE_MS = {"low": 1000, "medium": 600, "auto": 600, "high": 300}


@dataclass
class RealtimeSettings:
    """What `session.update` controls, with the values a new session starts with."""

    instructions: str = ""
    voice: str = "alloy"
    input_rate: int = 24000
    output_rate: int = 24000
    server_vad: bool = True
    semantic_vad: bool = False  # the server VAD's turn ends are decided by the state head
    eagerness: str = "auto"  # semantic_vad's
    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    interrupt_response: bool = True
    # Manual turns (no server VAD) keep at most this much audio before a commit.
    max_buffer_seconds: float = 120.0


def object_field(message: dict, key: str) -> dict:
    value = message.get(key)
    if not isinstance(value, dict):
        raise ProtocolError("invalid_event", f"`{key}` must be an object", key)
    return value


def read_session_update(update: dict, settings: RealtimeSettings) -> None:
    """Apply a session.update body (beta or GA shape) to `settings`, validating every field."""
    session_type = update.get("type", "realtime")
    if session_type != "realtime":
        raise ProtocolError("unsupported_session_type",
                            f"session type `{session_type}` is not supported; use `realtime`",
                            "session.type")
    if "instructions" in update:
        instructions = update["instructions"]
        if not isinstance(instructions, str) or len(instructions) > MAX_INSTRUCTIONS:
            raise ProtocolError("invalid_value", "`instructions` must be a string of at most "
                                f"{MAX_INSTRUCTIONS} characters", "session.instructions")
        settings.instructions = instructions
    for key in ("modalities", "output_modalities"):
        if key in update:
            modalities = update[key]
            if not isinstance(modalities, list) or "audio" not in modalities:
                raise ProtocolError("unsupported_value", "omnitalk always answers with audio: "
                                    f"`{key}` must include \"audio\"", f"session.{key}")
    audio = update.get("audio", {})
    if not isinstance(audio, dict):
        raise ProtocolError("invalid_value", "`audio` must be an object", "session.audio")
    audio_in = _sub(audio, "input", "session.audio")
    audio_out = _sub(audio, "output", "session.audio")
    voice = update.get("voice", audio_out.get("voice"))
    if voice is not None:
        if not isinstance(voice, str) or not 0 < len(voice) <= 64:
            raise ProtocolError("invalid_value", "`voice` must be a short string", "session.voice")
        settings.voice = voice
    for key in ("input_audio_format", "output_audio_format"):
        if key in update and update[key] != "pcm16":
            raise ProtocolError("unsupported_audio_format",
                                f"`{key}` must be \"pcm16\"; G.711 is not supported",
                                f"session.{key}")
    if "format" in audio_in:
        settings.input_rate = _pcm_rate(audio_in["format"], "session.audio.input.format")
    if "format" in audio_out:
        settings.output_rate = _pcm_rate(audio_out["format"], "session.audio.output.format")
    if "turn_detection" in update or "turn_detection" in audio_in:
        detection = update.get("turn_detection", audio_in.get("turn_detection"))
        _read_turn_detection(detection, settings)


def _sub(parent: dict, key: str, where: str) -> dict:
    value = parent.get(key, {})
    if not isinstance(value, dict):
        raise ProtocolError("invalid_value", f"`{key}` must be an object", f"{where}.{key}")
    return value


def _pcm_rate(audio_format: Any, where: str) -> int:
    if not isinstance(audio_format, dict) or audio_format.get("type") != "audio/pcm":
        raise ProtocolError("unsupported_audio_format",
                            "only {\"type\": \"audio/pcm\"} (16-bit PCM) is supported", where)
    rate = audio_format.get("rate", 24000)
    if not isinstance(rate, int) or isinstance(rate, bool) or rate not in SUPPORTED_RATES:
        raise ProtocolError("unsupported_audio_format",
                            "`rate` must be an integer from 8000 to 48000 (24000 is standard)",
                            f"{where}.rate")
    return rate


def _read_turn_detection(detection: Any, settings: RealtimeSettings) -> None:
    where = "session.turn_detection"
    if detection is None:
        settings.server_vad = False
        return
    if not isinstance(detection, dict):
        raise ProtocolError("invalid_value", "`turn_detection` must be an object or null", where)
    kind = detection.get("type", "server_vad")
    settings.semantic_vad = kind == "semantic_vad"
    if kind == "semantic_vad":
        eagerness = detection.get("eagerness", "auto")
        if not isinstance(eagerness, str) or eagerness not in EAGERNESS_SILENCE_MS:
            raise ProtocolError("invalid_value", "`eagerness` must be low, medium, high or auto",
                                f"{where}.eagerness")
        settings.eagerness = eagerness
        settings.silence_duration_ms = EAGERNESS_SILENCE_MS[eagerness]
    elif kind != "server_vad":
        raise ProtocolError("unsupported_turn_detection",
                            f"turn detection `{kind}` is not supported; use server_vad or null",
                            f"{where}.type")
    settings.server_vad = True
    if detection.get("create_response", True) is not True:
        raise ProtocolError("unsupported_value",
                            "server VAD always answers at the end of a turn here; use "
                            "turn_detection null and response.create to answer on demand",
                            f"{where}.create_response")
    interrupt = detection.get("interrupt_response", settings.interrupt_response)
    if not isinstance(interrupt, bool):
        raise ProtocolError("invalid_value", "`interrupt_response` must be a boolean",
                            f"{where}.interrupt_response")
    settings.interrupt_response = interrupt
    settings.threshold = _number(detection, "threshold", settings.threshold, 0.0, 1.0, where)
    settings.prefix_padding_ms = int(_number(detection, "prefix_padding_ms",
                                             settings.prefix_padding_ms, 0, 2000, where))
    settings.silence_duration_ms = int(_number(detection, "silence_duration_ms",
                                               settings.silence_duration_ms, 32, 10000, where))


def _number(values: dict, key: str, default: float, low: float, high: float, where: str) -> float:
    value = values.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ProtocolError("invalid_value", f"`{key}` must be a number from {low} to {high}",
                            f"{where}.{key}")
    return value
