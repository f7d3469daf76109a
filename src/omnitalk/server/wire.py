"""JSON on the wire: client messages read safely, the runtime's typed events written out.

Both protocols read client messages with `parse_message`; the `/v1/stream` profile and session
records write events with `event_to_json`.
"""

from __future__ import annotations

import dataclasses
import json

from omnitalk.agent import events as ev

# Longest instructions (a system prompt) a client may set, in characters, on either protocol.
MAX_INSTRUCTIONS = 32_000


class ProtocolError(Exception):
    """A client message we reject; becomes an `error` event and the session goes on."""

    def __init__(self, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


def parse_message(raw: str, max_bytes: int) -> dict:
    """A client's text message as a JSON object, or a ProtocolError saying what is wrong."""
    if len(raw.encode("utf-8", "surrogatepass")) > max_bytes:
        raise ProtocolError("message_too_large", f"messages are limited to {max_bytes} bytes")
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError) as error:  # ValueError: also integers too long to read
        raise ProtocolError("invalid_json", f"the message is not valid JSON: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError("invalid_event", "a message must be a JSON object")
    return message


_EVENT_NAMES = {
    ev.SpeechStarted: "speech_started",
    ev.SpeechStopped: "speech_stopped",
    ev.TranscriptPartial: "transcript_partial",
    ev.TranscriptFinal: "transcript_final",
    ev.ReplyStarted: "reply_started",
    ev.ReplyTextDelta: "reply_text",
    ev.ReplyAudio: "reply_audio",
    ev.ReplyDone: "reply_done",
    ev.ReplyCancelled: "reply_cancelled",
    ev.ErrorEvent: "error",
    ev.TurnDecision: "turn_decision",
}


def event_name(event: ev.Event) -> str:
    return _EVENT_NAMES[type(event)]


def event_to_json(event: ev.Event) -> dict:
    """Every field but raw audio, rounded for reading; reply audio travels separately."""
    record: dict = {"type": event_name(event)}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if field.name == "audio":
            continue
        record[field.name] = round(value, 3) if isinstance(value, float) else value
    return record
