"""Real WebSocket clients for /v1/realtime and /v1/stream, and the helpers tests drive them with."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from contextlib import contextmanager

import httpx
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from fakes import SilentTTS
from omnitalk.audio.pcm import float_to_pcm16

WAIT = 30.0  # generous: waits end on events, never on time
LIMIT = 64 * 1024  # max_message_bytes for the shared server: a 2.5 s frame still fits the socket
REPLY = "Sure. Here is a short answer."
SLOW_REPLY = " ".join(f"word{i}." for i in range(40))  # one clause per word
SESSION_16K = {"type": "realtime", "audio": {"input": {
    "format": {"type": "audio/pcm", "rate": 16000},
    "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
}}}


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://", 1) + path


def b64(audio: np.ndarray) -> str:
    return base64.b64encode(float_to_pcm16(audio)).decode("ascii")


def wait_for(condition: Callable[[], object], what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Client:
    """A WebSocket client that keeps every JSON event (and binary frame) it has received."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.events: list[dict] = []
        self.binary: list[bytes] = []

    def send(self, event: dict) -> None:
        self.ws.send(json.dumps(event))

    def next(self, timeout: float = WAIT) -> dict:
        """The next JSON event (binary frames are kept aside)."""
        while True:
            message = self.ws.recv(timeout=timeout)
            if isinstance(message, bytes):
                self.binary.append(message)
                continue
            event = json.loads(message)
            self.events.append(event)
            return event

    def until(self, match: str | Callable[[dict], bool], timeout: float = WAIT) -> list[dict]:
        """Events up to and including the first that matches (a type, or a predicate)."""
        test = (lambda e: e["type"] == match) if isinstance(match, str) else match
        got = []
        while True:
            got.append(self.next(timeout))
            if test(got[-1]):
                return got

    def expect_error(self, code: str, event_id: str | None = None) -> dict:
        event = self.next()
        assert event["type"] == "error", event
        if "error" in event:  # Realtime
            assert event["error"]["code"] == code, event
            assert event["error"]["event_id"] == event_id, event
        else:  # /v1/stream
            assert event["code"] == code, event
        return event

    def closed_code(self) -> int:
        """Read until the server closes; the close code it sent."""
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                self.ws.recv(timeout=WAIT)
        return closed.value.rcvd.code


@contextmanager
def realtime(base: str, **kwargs):
    with connect(ws_url(base, "/v1/realtime"), open_timeout=WAIT, max_size=None,
                 **kwargs) as ws:
        client = Client(ws)
        created = client.next()
        assert created["type"] == "session.created"
        yield client


@contextmanager
def stream(base: str, query: str = "input_rate=16000", **kwargs):
    with connect(ws_url(base, f"/v1/stream?{query}"), open_timeout=WAIT, max_size=None,
                 **kwargs) as ws:
        client = Client(ws)
        ready = client.next()
        assert ready["type"] == "ready"
        yield client


def configure(client: Client, session: dict | None = None) -> dict:
    client.send({"type": "session.update",
                 "session": SESSION_16K if session is None else session})
    event = client.next()
    assert event["type"] == "session.updated", event
    return event["session"]


def append(client: Client, audio: np.ndarray, chunk: int = 1600) -> None:
    """Audio at 16 kHz in 100 ms appends (the sessions here are configured for 16 kHz)."""
    for start in range(0, audio.size, chunk):
        client.send({"type": "input_audio_buffer.append", "audio": b64(audio[start:start + chunk])})


def user_text(text: str, **event) -> dict:
    return {"type": "conversation.item.create", **event, "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def pcm_samples(events: list[dict], suffix: str = "output_audio.delta") -> np.ndarray:
    chunks = []
    for event in events:
        if event["type"].endswith(suffix):
            raw = base64.b64decode(event["delta"], validate=True)
            assert len(raw) % 2 == 0
            chunks.append(np.frombuffer(raw, "<i2"))
    return np.concatenate(chunks) if chunks else np.zeros(0, "<i2")


def readyz(base: str, **kwargs) -> httpx.Response:
    return httpx.get(f"{base}/readyz", timeout=WAIT, **kwargs)


def spoken_samples(tts: SilentTTS) -> int:
    """Samples SilentTTS produced (16 kHz), the same formula it uses."""
    return sum(int(len(text.split()) * tts.seconds_per_word * 16000) for text in tts.spoken)
