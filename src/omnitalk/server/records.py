"""Session records: each session's events and both audio sides, written as they happen.

One folder per session: `events.jsonl` (one JSON object per line, flushed per line), `user.wav`
(16 kHz, what the session heard) and `assistant.wav` (every reply sample generated, at the TTS
rate). The WAV headers are patched after every write (the standard `wave` module does this on a
seekable file) and each write is flushed, so a crash loses at most the frame being written.
Reply audio lines in `events.jsonl` carry `assistant_offset_s`, where that audio starts in
`assistant.wav`, so the two sides can be lined up on the input clock (`audio_time`).
"""

from __future__ import annotations

import json
import time
import wave
from pathlib import Path

import numpy as np

from omnitalk.agent import events as ev
from omnitalk.audio.pcm import float_to_pcm16
from omnitalk.server.wire import event_to_json


class _WavAppender:
    """A mono 16-bit WAV that is valid on disk after every append."""

    def __init__(self, path: Path, rate: int) -> None:
        self.rate = rate
        self.samples = 0
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._writer = wave.open(self._file, "wb")
        self._writer.setnchannels(1)
        self._writer.setsampwidth(2)
        self._writer.setframerate(rate)

    def append(self, audio: np.ndarray) -> None:
        self._writer.writeframes(float_to_pcm16(audio))
        self._file.flush()
        self.samples += audio.size

    def close(self) -> None:
        self._writer.close()
        self._file.close()


class SessionRecorder:
    def __init__(self, folder: Path, user_rate: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._events = open(folder / "events.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        self._user = _WavAppender(folder / "user.wav", user_rate)
        self._assistant: _WavAppender | None = None

    def note(self, record: dict) -> None:
        """Append one line to events.jsonl (client actions, session settings)."""
        self._events.write(json.dumps({"wall_time": round(time.time(), 3), **record}) + "\n")
        self._events.flush()

    def user_audio(self, audio: np.ndarray) -> None:
        self._user.append(audio)

    def event(self, event: ev.Event) -> None:
        record = event_to_json(event)
        if isinstance(event, ev.ReplyAudio):
            if self._assistant is None:
                self._assistant = _WavAppender(self.folder / "assistant.wav", event.sample_rate)
            record["assistant_offset_s"] = round(self._assistant.samples / self._assistant.rate, 3)
            record["seconds"] = round(event.audio.size / event.sample_rate, 3)
            self._assistant.append(event.audio)
        self.note(record)

    def close(self) -> None:
        for writer in (self._user, self._assistant):
            if writer is not None:
                writer.close()
        self._events.close()
