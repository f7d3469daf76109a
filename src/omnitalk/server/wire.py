"""The runtime's typed events as JSON: the `/v1/stream` profile and session records share it."""

from __future__ import annotations

import dataclasses
import re

from omnitalk.agent import events as ev

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
}


def event_name(event: ev.Event) -> str:
    try:
        return _EVENT_NAMES[type(event)]
    except KeyError:  # a new event type: a readable name rather than a crash
        return re.sub(r"(?<!^)(?=[A-Z])", "_", type(event).__name__).lower()


def event_to_json(event: ev.Event) -> dict:
    """Every field but raw audio, rounded for reading; reply audio travels separately."""
    record: dict = {"type": event_name(event)}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if field.name == "audio":
            continue
        record[field.name] = round(value, 3) if isinstance(value, float) else value
    return record
