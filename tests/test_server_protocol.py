"""The server's wire protocols on scripted engines: the real uvicorn server, real clients.

Every rejected client event gets a specific error and the connection stays usable; text turns,
manual commits, server VAD, barge-in and cancels; engine failures (a scripted LLM and a real
OpenAI-compatible endpoint that is down or silent); disconnects; auth; static-file confinement;
limits; readiness; session records. A hypothesis fuzz test throws random client traffic straight
at both protocol objects. No assertion depends on timing: waits are generous and event-driven.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
import wave
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai import AsyncOpenAI
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from fakes import EnergyVAD, ScriptedASR, ScriptedLLM, SilentTTS, silence, tone
from omnitalk.agent.responders.cascade import CascadeResponder
from omnitalk.audio.pcm import float_to_pcm16
from omnitalk.assistant import AssistantConfig
from omnitalk.engines import registry
from omnitalk.engines.base import LLMConfig
from omnitalk.server.live import LiveSession
from omnitalk.server.realtime import RealtimeProtocol, RealtimeSettings
from omnitalk.server.stream import StreamProtocol
from serving import FakeAssistant, free_port, running_server

WAIT = 30.0  # generous: waits end on events, never on time
LIMIT = 64 * 1024  # max_message_bytes for the shared server: a 2.5 s frame still fits the socket
REPLY = "Sure. Here is a short answer."
SLOW_REPLY = " ".join(f"word{i}." for i in range(40))  # one clause per word
SESSION_16K = {"type": "realtime", "audio": {"input": {
    "format": {"type": "audio/pcm", "rate": 16000},
    "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
}}}
SESSION_MANUAL = {"type": "realtime", "audio": {"input": {
    "format": {"type": "audio/pcm", "rate": 16000}, "turn_detection": None,
}}}
SESSION_THREAD_PREFIXES = ("feed", "asr-partial", "asr-final", "reply", "tts")


# ----------------------------------------------------------------------------------- helpers


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


def session_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith(SESSION_THREAD_PREFIXES)}


def spoken_samples(tts: SilentTTS) -> int:
    """Samples SilentTTS produced (16 kHz), the same formula it uses."""
    return sum(int(len(text.split()) * tts.seconds_per_word * 16000) for text in tts.spoken)


@pytest.fixture(scope="module")
def server():
    """A shared server on the default scripted assistant, with a small message limit."""
    with running_server(FakeAssistant.build, max_message_bytes=LIMIT) as base:
        yield base


# ------------------------------------------------------------- 1. rejected events, Realtime


def test_realtime_rejections_each_get_a_specific_error_and_the_session_goes_on(server):
    bad_session_updates = [
        ({"turn_detection": {"type": "server_vad", "threshold": 2}}, "invalid_value"),
        ({"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": -0.1}}}},
         "invalid_value"),
        ({"input_audio_format": "g711_ulaw"}, "unsupported_audio_format"),
        ({"audio": {"input": {"format": {"type": "audio/pcmu"}}}}, "unsupported_audio_format"),
        ({"audio": {"output": {"format": {"type": "audio/pcm", "rate": 96000}}}},
         "unsupported_audio_format"),
        ({"turn_detection": {"type": "server_vad", "create_response": False}},
         "unsupported_value"),
        ({"audio": {"input": {"turn_detection": {"type": "foo"}}}}, "unsupported_turn_detection"),
        ({"type": "transcription"}, "unsupported_session_type"),
        ({"output_modalities": ["text"]}, "unsupported_value"),
        ({"instructions": 42}, "invalid_value"),
        # Unhashable values where a name is expected.
        ({"turn_detection": {"type": "semantic_vad", "eagerness": ["high"]}}, "invalid_value"),
        ({"turn_detection": {"type": ["server_vad"]}}, "unsupported_turn_detection"),
    ]
    with realtime(server) as client:
        # Audio before any session.update is refused, with the client's event_id echoed.
        client.send({"type": "input_audio_buffer.append", "audio": b64(tone(0.1)),
                     "event_id": "evt_early"})
        client.expect_error("session_not_configured", "evt_early")
        configure(client)

        rejections: list[tuple[str | bytes, str, str | None]] = [
            ("x" * (LIMIT + 1), "message_too_large", None),
            (json.dumps({"type": "input_audio_buffer.append", "event_id": "evt_big",
                         "audio": "A" * LIMIT}), "message_too_large", None),
            ("{not json", "invalid_json", None),
            ('{"type": "session.update", "x": ' + "1" * 5000 + "}", "invalid_json", None),
            ("[" * 20_000 + "]" * 20_000, "invalid_json", None),
            ('[{"type": "session.update"}]', "invalid_event", None),
            ('"session.update"', "invalid_event", None),
            (json.dumps({"event_id": "evt_nt", "type": 5}), "invalid_event", "evt_nt"),
            (json.dumps({"type": "conversation.item.destroy", "event_id": "evt_u"}),
             "unknown_event_type", "evt_u"),
            (json.dumps({"type": "conversation.item.delete", "item_id": "x", "event_id": "e1"}),
             "unsupported_event", "e1"),
            (json.dumps({"type": "output_audio_buffer.clear"}), "unsupported_event", None),
            (json.dumps({"type": "input_audio_buffer.append", "audio": "***not base64***",
                         "event_id": "evt_b64"}), "invalid_base64", "evt_b64"),
            (json.dumps({"type": "input_audio_buffer.append", "audio": "ünïcode"}),
             "invalid_base64", None),
            (json.dumps({"type": "input_audio_buffer.append",
                         "audio": base64.b64encode(b"\x01\x02\x03").decode()}),
             "invalid_audio", None),
            (json.dumps({"type": "input_audio_buffer.append", "audio": 12}), "invalid_event",
             None),
            (json.dumps({"type": "response.cancel", "event_id": "evt_c"}),
             "response_cancel_not_active", "evt_c"),
            (json.dumps({"type": "response.create", "event_id": "evt_r"}), "no_user_input",
             "evt_r"),
            (json.dumps({"type": "input_audio_buffer.commit"}),
             "input_audio_buffer_commit_empty", None),
            (json.dumps({"type": "conversation.item.create", "item": {
                "type": "function_call", "name": "f"}}), "unsupported_item", None),
            (json.dumps({"type": "conversation.item.create", "item": {
                "type": "message", "role": "user",
                "content": [{"type": "input_audio", "audio": ""}]}}),
             "unsupported_content", None),
            (json.dumps({"type": "conversation.item.truncate", "item_id": 3}), "invalid_event",
             None),
            (json.dumps({"type": "session.update", "session": "fast"}), "invalid_event", None),
            (b"\x00\x01", "binary_not_supported", None),
        ]
        for update, code in bad_session_updates:
            rejections.append((json.dumps({"type": "session.update", "event_id": f"evt_{code}",
                                           "session": update}), code, f"evt_{code}"))
        for message, code, event_id in rejections:
            client.ws.send(message)
            client.expect_error(code, event_id)
            # The connection stays usable after each rejection.
            session = configure(client)
            assert session["audio"]["input"]["turn_detection"]["threshold"] == 0.5


def test_rejected_session_update_changes_nothing(server):
    with realtime(server) as client:
        configure(client, {"instructions": "Be brief.", "audio": {"input": {
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 700}}}})
        # One good field and one bad: the whole update is refused.
        client.send({"type": "session.update", "session": {
            "instructions": "Changed.", "turn_detection": {"type": "server_vad", "threshold": 2}}})
        client.expect_error("invalid_value")
        session = configure(client, {})
        assert session["instructions"] == "Be brief."
        assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 700


def test_realtime_message_over_twice_the_limit_closes_with_1009(server):
    with realtime(server) as client:
        client.ws.send("x" * (3 * LIMIT))
        assert client.closed_code() == 1009
    # ...and the server is fine for the next client.
    with realtime(server) as client:
        configure(client)


def test_beta_dialect_accepts_beta_shapes_and_answers_with_beta_names(server):
    with realtime(server, additional_headers={"OpenAI-Beta": "realtime=v1"}) as client:
        session = configure(client, {"input_audio_format": "pcm16", "output_audio_format": "pcm16",
                                     "turn_detection": {"type": "server_vad"}})
        assert session["input_audio_format"] == "pcm16"
        client.send({"type": "session.update", "session": {"input_audio_format": "g711_ulaw"}})
        client.expect_error("unsupported_audio_format")
        client.send(user_text("Hi."))
        client.send({"type": "response.create"})
        events = client.until("response.done")
        names = set(types(events))
        assert "response.audio.delta" in names and "response.audio_transcript.delta" in names
        assert not any(n.startswith("response.output_audio") for n in names)
        assert events[-1]["response"]["status"] == "completed"


# --------------------------------------------------------------- 1b. rejected events, stream


def test_stream_rejections_each_get_a_specific_error_and_the_session_goes_on(server):
    with stream(server) as client:
        rejections: list[tuple[str | bytes, str]] = [
            ("{oops", "invalid_json"),
            ("1" * 5000, "invalid_json"),
            ("[1, 2]", "invalid_event"),
            ('{"type": 3}', "invalid_event"),
            ('{"type": "dance"}', "unknown_event"),
            ('{"type": "text", "text": "   "}', "invalid_event"),
            ('{"type": "config", "silence_ms": 5}', "invalid_event"),
            ('{"type": "config", "threshold": true}', "invalid_event"),
            ('{"type": "config", "instructions": 7}', "invalid_event"),
            ("é" * (LIMIT // 2 + 10), "message_too_large"),  # over the limit in bytes
            (bytes(int(2.5 * 16000) * 2), "message_too_large"),
            (b"\x00\x01\x02", "invalid_audio"),
        ]
        for message, code in rejections:
            client.ws.send(message)
            client.expect_error(code)
        # Still usable: a typed turn is answered.
        client.send({"type": "text", "text": "Are you there?"})
        events = client.until("reply_done")
        assert "reply_started" in types(events)
        assert events[-1]["text"] == REPLY
        assert client.binary, "reply audio comes as binary frames"


@pytest.mark.parametrize("query", ["input_rate=abc", "input_rate=100", "output_rate=96000"])
def test_stream_bad_rate_gets_an_error_then_close(server, query):
    with connect(ws_url(server, f"/v1/stream?{query}"), open_timeout=WAIT) as ws:
        client = Client(ws)
        client.expect_error("invalid_sample_rate")
        assert client.closed_code() == 1008


# ---------------------------------------------------------------------------------- 2. fuzz

_json_scalars = (st.none() | st.booleans() | st.integers() | st.floats()
                 | st.text(max_size=12))
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)


def _maybe(strategy):
    """The plausible value, or any JSON value at all."""
    return st.one_of(strategy, json_values)


_pcm_b64 = st.binary(max_size=4000).map(lambda raw: base64.b64encode(raw).decode())
_turn_detection = _maybe(st.fixed_dictionaries({}, optional={
    "type": _maybe(st.sampled_from(["server_vad", "semantic_vad", "none"])),
    "threshold": _maybe(st.floats(-1, 2)),
    "silence_duration_ms": _maybe(st.integers(0, 20000)),
    "prefix_padding_ms": _maybe(st.integers(-10, 3000)),
    "create_response": _maybe(st.booleans()),
    "interrupt_response": _maybe(st.booleans()),
    "eagerness": _maybe(st.sampled_from(["low", "medium", "high", "auto", "eager"])),
}) | st.none())
_format = _maybe(st.fixed_dictionaries({"type": _maybe(st.sampled_from(["audio/pcm",
                                                                         "audio/pcmu"]))},
                                       optional={"rate": _maybe(st.integers(0, 100000))}))
_session = _maybe(st.fixed_dictionaries({}, optional={
    "type": _maybe(st.just("realtime")),
    "instructions": _maybe(st.text(max_size=40)),
    "voice": _maybe(st.sampled_from(["alloy", "", "x" * 80])),
    "modalities": _maybe(st.sampled_from([["audio"], ["text"], ["text", "audio"]])),
    "output_modalities": _maybe(st.sampled_from([["audio"], ["text"]])),
    "input_audio_format": _maybe(st.sampled_from(["pcm16", "g711_ulaw"])),
    "turn_detection": _turn_detection,
    "audio": _maybe(st.fixed_dictionaries({}, optional={
        "input": _maybe(st.fixed_dictionaries({}, optional={
            "format": _format, "turn_detection": _turn_detection})),
        "output": _maybe(st.fixed_dictionaries({}, optional={
            "format": _format, "voice": _maybe(st.just("verse"))})),
    })),
}))
_item = _maybe(st.fixed_dictionaries({}, optional={
    "id": _maybe(st.text(max_size=10)),
    "type": _maybe(st.sampled_from(["message", "function_call"])),
    "role": _maybe(st.sampled_from(["user", "assistant", "system"])),
    "content": _maybe(st.lists(_maybe(st.fixed_dictionaries({
        "type": _maybe(st.sampled_from(["input_text", "text", "input_audio"])),
        "text": _maybe(st.text(max_size=30)),
    })), max_size=3)),
}))
REALTIME_TYPES = ["session.update", "input_audio_buffer.append", "input_audio_buffer.commit",
                  "input_audio_buffer.clear", "conversation.item.create",
                  "conversation.item.truncate", "response.create", "response.cancel",
                  "conversation.item.delete", "session.close", "response.bogus"]
_realtime_event = st.fixed_dictionaries(
    {"type": _maybe(st.sampled_from(REALTIME_TYPES))},
    optional={
        "event_id": _maybe(st.text(max_size=10)),
        "session": _session,
        "audio": _maybe(_pcm_b64),
        "item": _item,
        "item_id": _maybe(st.text(max_size=10)),
        "audio_end_ms": _maybe(st.integers(-5, 10**6)),
        "content_index": json_values,
        "response": _maybe(st.fixed_dictionaries({}, optional={
            "instructions": _maybe(st.text(max_size=20))})),
    },
).map(json.dumps)

# Valid client events; the fuzzer breaks one or two of their fields at a time, which reaches
# deep fields (turn detection, formats) far more often than random structures do.
_TURN = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
         "silence_duration_ms": 500, "create_response": True, "interrupt_response": True}
REALTIME_TEMPLATES = [
    {"type": "session.update", "event_id": "evt_1", "session": {
        "type": "realtime", "instructions": "Be brief.", "output_modalities": ["audio"],
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000},
                            "turn_detection": _TURN},
                  "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"}}}},
    {"type": "session.update", "session": {"audio": {"input": {"turn_detection": {
        "type": "semantic_vad", "eagerness": "high", "interrupt_response": False}}}}},
    {"type": "session.update", "session": {
        "modalities": ["text", "audio"], "voice": "verse", "input_audio_format": "pcm16",
        "output_audio_format": "pcm16", "turn_detection": None}},
    {"type": "session.update", "session": {
        "input_audio_format": "pcm16", "turn_detection": {"type": "semantic_vad",
                                                          "eagerness": "low"}}},
    {"type": "input_audio_buffer.append", "event_id": "evt_2",
     "audio": base64.b64encode(float_to_pcm16(tone(0.03))).decode()},
    {"type": "input_audio_buffer.commit"},
    {"type": "input_audio_buffer.clear"},
    {"type": "conversation.item.create", "item": {
        "id": "item_x", "type": "message", "role": "user",
        "content": [{"type": "input_text", "text": "Hello."}, {"type": "text", "text": "Hi"}]}},
    {"type": "conversation.item.truncate", "item_id": "item_x", "content_index": 0,
     "audio_end_ms": 100},
    {"type": "response.create", "event_id": "evt_3", "response": {"instructions": "Shout."}},
    {"type": "response.cancel"},
]
_ODD_VALUES = st.sampled_from([None, True, False, 0, -1, 2, 10**30, 1e308, float("nan"),
                               float("inf"), 0.5, "", "x" * 200, "realtime", [], {}, [1],
                               ["audio"], {"type": "x"}, {"a": [1, {"b": None}]}])


def _paths(value, prefix=()):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield (*prefix, index)
            yield from _paths(inner, (*prefix, index))


def _at(value, path):
    for step in path:
        value = value[step]
    return value


@st.composite
def _mutated(draw, templates: list[dict]) -> str:
    event = json.loads(json.dumps(draw(st.sampled_from(templates))))
    for _ in range(draw(st.integers(0, 2))):
        paths = list(_paths(event))
        if not paths:
            break
        leaves = [path for path in paths if not isinstance(_at(event, path), dict | list)]
        path = draw(st.sampled_from(leaves if leaves and draw(st.integers(0, 3)) else paths))
        parent = _at(event, path[:-1])
        if draw(st.integers(0, 4)) == 0 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            # A copy: sampled values are shared objects, and a later step may edit inside it.
            parent[path[-1]] = json.loads(json.dumps(draw(_ODD_VALUES | json_values)))
    return json.dumps(event)


FUZZ_LIMIT = 2048
realtime_actions = st.lists(st.one_of(
    _mutated(REALTIME_TEMPLATES[:4]), _mutated(REALTIME_TEMPLATES), _mutated(REALTIME_TEMPLATES),
    _realtime_event, _realtime_event,
    json_values.map(json.dumps),
    st.text(max_size=60),
    st.text(min_size=FUZZ_LIMIT + 1, max_size=FUZZ_LIMIT + 40),
    st.binary(max_size=64),
), min_size=4, max_size=16)


def _envelope_error(raw: str) -> tuple[str | None, dict]:
    """The error both protocols give before reading the event type, or the parsed message."""
    if len(raw.encode("utf-8", "surrogatepass")) > FUZZ_LIMIT:
        return "message_too_large", {}
    try:
        message = json.loads(raw)
    except (ValueError, RecursionError):
        return "invalid_json", {}
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return "invalid_event", {}
    return None, message


def _realtime_expected_error(raw: str) -> str | None:
    """The error code the Realtime protocol must answer a message with; None if it may accept."""
    error, message = _envelope_error(raw)
    if error:
        return error
    if message["type"] in ("conversation.item.delete", "session.close"):
        return "unsupported_event"
    if message["type"] not in REALTIME_TYPES:
        return "unknown_event_type"
    return None


async def _pump_pending(live: LiveSession, protocol) -> None:
    """Hand the session's queued events to the protocol (as the server's pump does)."""
    await asyncio.sleep(0)
    while not live.events.empty():
        await protocol.handle_event(live.events.get_nowait())


def _check_sent(sent: list[dict]) -> None:
    for message in sent:
        assert isinstance(message, dict) and isinstance(message.get("type"), str), message
        json.dumps(message)  # what the server does with it


async def _fuzz_realtime(actions: list, beta: bool) -> None:
    loop = asyncio.get_running_loop()
    live = LiveSession(FakeAssistant.build().new_session, loop)
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    protocol = RealtimeProtocol(live, send, RealtimeSettings(instructions="Be brief."),
                                beta=beta, max_message_bytes=FUZZ_LIMIT)
    try:
        await protocol.start()
        for action in actions:
            before = len(sent)
            if isinstance(action, bytes):
                await protocol.handle_binary(action)
                expected = "binary_not_supported"
            else:
                await protocol.handle_text(action)
                expected = _realtime_expected_error(action)
            answers = sent[before:]
            errors = [m for m in answers if m["type"] == "error"]
            if expected is not None:
                assert [e["error"]["code"] for e in answers] == [expected], (action, answers)
            for error in errors:
                assert isinstance(error["error"]["code"], str)
                if error["error"]["code"] == "message_too_large":
                    continue  # not parsed, so there is no event_id to echo
                try:
                    message = json.loads(action)
                except (ValueError, RecursionError, TypeError):
                    continue
                if isinstance(message, dict) and isinstance(message.get("event_id"), str):
                    assert error["error"]["event_id"] == message["event_id"]
            await _pump_pending(live, protocol)
    finally:
        await live.close()
    _check_sent(sent)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(actions=realtime_actions, beta=st.booleans())
def test_fuzz_realtime_protocol_never_raises_and_answers_every_bad_event(actions, beta):
    asyncio.run(_fuzz_realtime(actions, beta))


_stream_event = st.fixed_dictionaries(
    {"type": _maybe(st.sampled_from(["text", "cancel", "reset", "config", "dance"]))},
    optional={
        "text": _maybe(st.text(max_size=30)),
        "instructions": _maybe(st.text(max_size=30)),
        "silence_ms": _maybe(st.integers(0, 20000)),
        "threshold": _maybe(st.floats(-1, 2)),
    },
).map(json.dumps)
STREAM_TEMPLATES = [
    {"type": "text", "text": "Hello there."},
    {"type": "config", "instructions": "Be brief.", "silence_ms": 400, "threshold": 0.6},
    {"type": "cancel"}, {"type": "reset"},
]
stream_actions = st.lists(st.one_of(
    _mutated(STREAM_TEMPLATES), _mutated(STREAM_TEMPLATES), _stream_event, _stream_event,
    json_values.map(json.dumps), st.text(max_size=60),
    st.binary(max_size=3201), st.integers(2 * 16000 * 2 + 1, 2 * 16000 * 2 + 9).map(bytes),
    st.just(float_to_pcm16(tone(0.3))), st.just(float_to_pcm16(silence(0.6))),
), min_size=4, max_size=16)


def _stream_expected_error(action: str | bytes) -> str | None:
    if isinstance(action, bytes):
        if len(action) > 2 * 16000 * 2:
            return "message_too_large"
        return "invalid_audio" if len(action) % 2 else None
    error, message = _envelope_error(action)
    if error:
        return error
    if message["type"] not in ("text", "cancel", "reset", "config"):
        return "unknown_event"
    return None


async def _fuzz_stream(actions: list) -> None:
    loop = asyncio.get_running_loop()
    live = LiveSession(FakeAssistant.build().new_session, loop)
    sent: list[dict] = []
    audio_out: list[bytes] = []

    async def send_json(message: dict) -> None:
        sent.append(message)

    async def send_bytes(data: bytes) -> None:
        assert isinstance(data, bytes) and len(data) % 2 == 0
        audio_out.append(data)

    protocol = StreamProtocol(live, send_json, send_bytes, 16000, 24000, FUZZ_LIMIT)
    try:
        await protocol.start()
        for action in actions:
            before = len(sent)
            if isinstance(action, bytes):
                await protocol.handle_binary(action)
            else:
                await protocol.handle_text(action)
            expected = _stream_expected_error(action)
            if expected is not None:
                assert [(m["type"], m["code"]) for m in sent[before:]] == [("error", expected)]
            await _pump_pending(live, protocol)
    finally:
        await live.close()
    _check_sent(sent)
    for message in sent:
        assert isinstance(message["turn"], int) and isinstance(message["audio_time"], float)


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(actions=stream_actions)
def test_fuzz_stream_protocol_never_raises_and_answers_every_bad_message(actions):
    asyncio.run(_fuzz_stream(actions))


# ------------------------------------------------------------------ 3. turns over Realtime


def test_text_turn_gets_transcript_and_24khz_audio():
    assistant = FakeAssistant.build(reply=REPLY)
    with running_server(lambda: assistant) as base, realtime(base) as client:
        client.send(user_text("What is up?", event_id="evt_item"))
        created = client.next()
        assert created["type"] == "conversation.item.created"
        assert created["item"]["content"] == [{"type": "input_text", "text": "What is up?"}]
        client.send({"type": "response.create"})
        events = client.until("response.done")
    names = types(events)
    assert names[0] == "response.created"
    assert names.index("response.output_audio_transcript.delta") < names.index("response.done")
    deltas = [e["delta"] for e in events if e["type"] == "response.output_audio_transcript.delta"]
    assert "".join(deltas) == REPLY
    [done_transcript] = [e for e in events if e["type"] == "response.output_audio_transcript.done"]
    assert done_transcript["transcript"] == REPLY
    done = events[-1]["response"]
    assert done["status"] == "completed" and done["status_details"] is None
    assert done["output"][0]["content"][0]["transcript"] == REPLY
    assert done["id"] == events[0]["response"]["id"]
    # Audio: base64 PCM16 at 24 kHz, each delta at most 200 ms, as long as what was spoken.
    samples = pcm_samples(events)
    assert all(len(base64.b64decode(e["delta"])) <= 2 * 4800 for e in events
               if e["type"] == "response.output_audio.delta")
    expected = spoken_samples(assistant.responder.tts) * 24000 / 16000
    assert abs(samples.size - expected) <= 0.01 * expected
    assert 28 <= np.median(np.abs(samples)) <= 38  # SilentTTS's 0.001 is PCM16 33
    assert assistant.responder.llm.prompts[-1][-1].content == "What is up?"


def test_second_response_create_is_refused_and_cancel_stops_the_reply():
    llm = ScriptedLLM(SLOW_REPLY, delay_s=0.1)
    assistant = FakeAssistant.build(llm=llm)
    with running_server(lambda: assistant) as base, realtime(base) as client:
        # Back to back: the second response.create may arrive before or after the server has
        # announced the first response; either way it is refused and its input kept.
        client.send(user_text("Tell me a long story."))
        client.send({"type": "response.create"})
        client.send(user_text("And another."))
        client.send({"type": "response.create", "event_id": "evt_second"})
        [error] = [e for e in client.until("error") if e["type"] == "error"]
        assert error["error"]["code"] == "conversation_already_has_active_response"
        assert error["error"]["event_id"] == "evt_second"
        if not any(e["type"] == "response.output_audio_transcript.delta" for e in client.events):
            client.until("response.output_audio_transcript.delta")
        client.send({"type": "response.create"})  # and again, once it is surely under way
        assert client.until("error")[-1]["error"]["code"] == \
            "conversation_already_has_active_response"
        client.send({"type": "response.cancel", "event_id": "evt_cancel"})
        events = client.until("response.done")
        assert not [e for e in events if e["type"] == "error"]
        response = events[-1]["response"]
        assert response["status"] == "cancelled"
        assert response["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        assert wait_for(llm.cancelled.is_set, "the LLM to see the cancel")
        # Nothing active any more; the refused user message is still pending and is answered.
        client.send({"type": "response.cancel"})
        client.expect_error("response_cancel_not_active")
        llm.delay_s = 0.0
        client.send({"type": "response.create"})
        events = client.until("response.done")
        assert events[-1]["response"]["status"] == "completed"
        assert llm.prompts[-1][-1].content == "And another."


def test_manual_turns_commit_transcribe_and_answer_on_request():
    assistant = FakeAssistant.build(transcript="what time is it")
    with running_server(lambda: assistant) as base, realtime(base) as client:
        session = configure(client, SESSION_MANUAL)
        assert session["audio"]["input"]["turn_detection"] is None
        append(client, tone(0.05))
        client.send({"type": "input_audio_buffer.commit", "event_id": "evt_short"})
        client.expect_error("input_audio_buffer_commit_empty", "evt_short")
        client.send({"type": "input_audio_buffer.clear"})
        assert client.next()["type"] == "input_audio_buffer.cleared"
        client.send({"type": "input_audio_buffer.commit"})
        client.expect_error("input_audio_buffer_commit_empty")

        append(client, tone(1.0))
        client.send({"type": "input_audio_buffer.commit"})
        events = client.until("conversation.item.input_audio_transcription.completed")
        names = types(events)
        assert names[:2] == ["input_audio_buffer.committed", "conversation.item.created"]
        assert "input_audio_buffer.speech_started" not in names  # no VAD in manual mode
        item_id = events[0]["item_id"]
        assert events[-1]["item_id"] == item_id
        assert events[-1]["transcript"] == "what time is it"
        assert events[-1]["usage"]["seconds"] == pytest.approx(1.0, abs=0.01)
        assert assistant.asr.calls[-1][0] == pytest.approx(1.0, abs=0.01)  # the cleared 50 ms gone
        assert not assistant.responder.llm.prompts  # not answered until asked

        client.send({"type": "response.create"})
        events = client.until("response.done")
        assert events[-1]["response"]["status"] == "completed"
        assert assistant.responder.llm.prompts[-1][-1].content == "what time is it"
        client.send({"type": "response.create"})
        client.expect_error("no_user_input")


def test_server_vad_turn_from_speech_to_reply():
    assistant = FakeAssistant.build(transcript="hello there")
    with running_server(lambda: assistant) as base, realtime(base) as client:
        configure(client)
        append(client, np.concatenate([silence(0.3), tone(1.0), silence(1.0)]))
        events = client.until("response.done")
    names = types(events)
    order = ["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
             "input_audio_buffer.committed",
             "conversation.item.input_audio_transcription.completed", "response.created",
             "response.done"]
    assert [n for n in names if n in order] == order
    started, stopped = events[names.index(order[0])], events[names.index(order[1])]
    assert 250 <= started["audio_start_ms"] <= 350
    assert 1250 <= stopped["audio_end_ms"] <= 1350
    transcribed = events[names.index(order[3])]
    assert transcribed["transcript"] == "hello there"
    assert started["item_id"] == stopped["item_id"] == transcribed["item_id"]
    assert events[-1]["response"]["status"] == "completed"
    assert pcm_samples(events).size > 0


def test_server_vad_commit_ends_the_turn_early():
    assistant = FakeAssistant.build()
    with running_server(lambda: assistant) as base, realtime(base) as client:
        configure(client)
        client.send({"type": "input_audio_buffer.commit"})
        client.expect_error("input_audio_buffer_commit_empty")
        append(client, tone(0.6))  # still speaking: no silence follows
        client.until("input_audio_buffer.speech_started")
        client.send({"type": "input_audio_buffer.commit"})
        events = client.until("response.done")
        assert "input_audio_buffer.speech_stopped" in types(events)
        assert events[-1]["response"]["status"] == "completed"


def test_barge_in_cancels_the_reply():
    llm = ScriptedLLM(SLOW_REPLY, delay_s=0.1)
    assistant = FakeAssistant.build(llm=llm)
    with running_server(lambda: assistant) as base, realtime(base) as client:
        configure(client)
        append(client, np.concatenate([tone(0.8), silence(0.8)]))
        client.until("response.output_audio.delta")
        append(client, tone(0.5))
        events = client.until(lambda e: e["type"] in ("response.done",
                                                      "conversation.item.truncated"))
        if events[-1]["type"] == "response.done":
            response = events[-1]["response"]
            assert response["status"] == "cancelled"
            assert response["status_details"]["reason"] == "turn_detected"
            assert wait_for(llm.cancelled.is_set, "the LLM to see the barge-in")
        else:  # the reply had finished generating before the user spoke
            assert events[-1]["audio_end_ms"] >= 0
        client.until("input_audio_buffer.speech_started")


def test_barge_in_after_the_whole_reply_was_sent_truncates_it():
    assistant = FakeAssistant.build(reply=REPLY)  # 6 words: 1.5 s of reply audio
    with running_server(lambda: assistant) as base, realtime(base) as client:
        configure(client)
        append(client, np.concatenate([tone(0.8), silence(0.6)]))  # the turn ends at 1.3 s
        done = client.until("response.done")[-1]["response"]
        assert done["status"] == "completed"
        append(client, np.concatenate([silence(0.3), tone(0.5)]))  # 0.3 s into the reply
        events = client.until("conversation.item.truncated")
        truncated = events[-1]
        assert truncated["item_id"] == done["output"][0]["id"]
        # At most the input audio between the commit (about 1.31 s) and the barge-in (1.73 s).
        assert 0 <= truncated["audio_end_ms"] <= 450
        assert "response.done" not in types(events)  # no second response.done for it
        client.until("input_audio_buffer.speech_started")


def test_interrupt_response_false_ignores_speech_while_the_reply_plays():
    llm = ScriptedLLM("One. Two. Three. Four. Five. Six.", delay_s=0.05)  # 1.5 s of audio
    assistant = FakeAssistant.build(llm=llm)
    session = {"type": "realtime", "audio": {"input": {
        "format": {"type": "audio/pcm", "rate": 16000},
        "turn_detection": {"type": "server_vad", "interrupt_response": False}}}}
    with running_server(lambda: assistant) as base, realtime(base) as client:
        assert configure(client, session)["audio"]["input"]["turn_detection"][
            "interrupt_response"] is False
        append(client, np.concatenate([tone(0.8), silence(0.8)]))  # the turn ends at 1.3 s
        client.until("response.created")
        append(client, tone(0.5))  # 1.6-2.1 s: over the reply, which is still to be heard
        events = client.until("response.done")
        assert events[-1]["response"]["status"] == "completed"
        # Once the reply has been heard in full, the assistant listens again.
        append(client, np.concatenate([silence(2.0), tone(0.5), silence(1.0)]))
        started = client.until("input_audio_buffer.speech_started")[-1]
    assert started["audio_start_ms"] >= 4000  # the tone at 4.1 s, not the one at 1.6 s
    assert [e["type"] for e in client.events].count("input_audio_buffer.speech_started") == 2


# --------------------------------------------------------------------------- 4. LLM failures


def test_llm_failure_reports_llm_error_then_the_next_turn_completes():
    llm = ScriptedLLM(REPLY, fail_times=1)
    with running_server(lambda: FakeAssistant.build(llm=llm)) as base, realtime(base) as client:
        client.send(user_text("First."))
        client.send({"type": "response.create"})
        events = client.until("response.done")
        errors = [e for e in events if e["type"] == "error"]
        assert [e["error"]["code"] for e in errors] == ["llm_error"]
        assert errors[0]["error"]["type"] == "server_error"
        assert "unreachable" in errors[0]["error"]["message"]
        assert types(events).index("error") < len(events) - 1  # the cause comes first
        response = events[-1]["response"]
        assert response["status"] == "failed"
        assert response["status_details"]["type"] == "failed"

        client.send(user_text("Second."))
        client.send({"type": "response.create"})
        events = client.until("response.done")
        assert events[-1]["response"]["status"] == "completed"
        assert "error" not in types(events)


@pytest.mark.parametrize("failure, code", [
    ({"fail_times": 1}, "llm_error"),
    ({"crash": RuntimeError("a bug in an engine")}, "reply_failed"),  # unforeseen: still ends
])
def test_llm_failure_on_the_stream_profile(failure, code):
    llm = ScriptedLLM(REPLY, **failure)
    with running_server(lambda: FakeAssistant.build(llm=llm)) as base, stream(base) as client:
        client.send({"type": "text", "text": "First."})
        events = client.until("reply_cancelled")
        assert [e["code"] for e in events if e["type"] == "error"] == [code]
        assert events[-1]["reason"] == "error"
        client.send({"type": "text", "text": "Second."})
        assert client.until("reply_done")[-1]["text"] == REPLY


def _openai_assistant(base_url: str, timeout_s: float = 5.0) -> FakeAssistant:
    config = LLMConfig(backend="openai", model="test-model", base_url=base_url,
                       timeout_s=timeout_s)
    llm = registry.create("llm", config)
    voice = SilentTTS()
    return FakeAssistant(AssistantConfig(), EnergyVAD(), ScriptedASR(),
                         CascadeResponder(llm, voice), voice, {})


def _failed_turn(client: Client, text: str) -> dict:
    client.send(user_text(text))
    client.send({"type": "response.create"})
    events = client.until("response.done")
    assert events[-1]["response"]["status"] == "failed"
    [error] = [e["error"] for e in events if e["type"] == "error"]
    assert error["code"] == "llm_error"
    return error


def test_openai_compatible_llm_that_is_down_gives_a_clear_error():
    port = free_port()  # nothing listens there
    assistant = _openai_assistant(f"http://127.0.0.1:{port}/v1")
    with running_server(lambda: assistant) as base, realtime(base) as client:
        error = _failed_turn(client, "Hello?")
        assert f"http://127.0.0.1:{port}/v1/chat/completions" in error["message"]
        assert "unreachable" in error["message"]
        configure(client)  # the session stays usable
        assert "unreachable" in _failed_turn(client, "Still there?")["message"]


class _SilentEndpoint:
    """Accepts connections and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="silent-endpoint", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.held.append(connection)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.listener.close()
        for connection in self.held:
            connection.close()


def test_openai_compatible_llm_that_times_out_gives_a_clear_error():
    endpoint = _SilentEndpoint()
    try:
        assistant = _openai_assistant(f"http://127.0.0.1:{endpoint.port}/v1", timeout_s=0.5)
        with running_server(lambda: assistant) as base, realtime(base) as client:
            error = _failed_turn(client, "Hello?")
            assert f"127.0.0.1:{endpoint.port}" in error["message"]
            assert "timed out after 0.5 s" in error["message"]
            assert endpoint.held, "the request reached the endpoint"
            configure(client)
            assert "timed out" in _failed_turn(client, "Again?")["message"]
    finally:
        endpoint.close()


# ----------------------------------------------------------------------------- 5. disconnect


def test_client_vanishing_mid_reply_frees_its_session_and_threads():
    llm = ScriptedLLM(SLOW_REPLY, delay_s=0.1)
    assistant = FakeAssistant.build(llm=llm)
    before = session_threads()
    with running_server(lambda: assistant) as base:
        with realtime(base) as client:
            configure(client)
            append(client, np.concatenate([tone(0.8), silence(0.8)]))
            client.until("response.output_audio.delta")
            assert readyz(base).json()["sessions"] == 1
            assert session_threads() - before, "the session runs its own threads"
            client.ws.close_socket()  # no close handshake: the client just vanishes
        wait_for(lambda: readyz(base).json()["sessions"] == 0, "the session count to drop")
        assert wait_for(llm.cancelled.is_set, "the LLM to see the cancel")
        wait_for(lambda: session_threads() <= before, "the session threads to end")
        # The models stay loaded for the next client.
        llm.delay_s = 0.0
        with realtime(base) as client:
            client.send(user_text("Back again."))
            client.send({"type": "response.create"})
            assert client.until("response.done")[-1]["response"]["status"] == "completed"
    wait_for(lambda: session_threads() <= before, "the second session's threads to end")


def test_stream_client_vanishing_mid_reply_frees_its_session():
    llm = ScriptedLLM(SLOW_REPLY, delay_s=0.1)
    before = session_threads()
    with running_server(lambda: FakeAssistant.build(llm=llm)) as base:
        with stream(base) as client:
            client.send({"type": "text", "text": "Talk for a while."})
            client.until("reply_text")
            client.ws.close_socket()
        wait_for(lambda: readyz(base).json()["sessions"] == 0, "the session count to drop")
        assert wait_for(llm.cancelled.is_set, "the LLM to see the cancel")
        wait_for(lambda: session_threads() <= before, "the session threads to end")


# ----------------------------------------------------------------------------------- 6. auth


@pytest.fixture(scope="module")
def keyed_server():
    with running_server(FakeAssistant.build, api_key="k") as base:
        yield base


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("path", ["/", "/healthz", "/readyz", "/app.js", "/index.html"])
def test_http_routes_need_the_key(keyed_server, path):
    url = keyed_server + path
    denied = httpx.get(url, timeout=WAIT)
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "invalid_api_key"
    assert denied.headers["www-authenticate"].startswith("Basic")
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": _basic("u", "kk")},
                    {"Authorization": "Basic !!notbase64"}, {"Authorization": "k"}):
        assert httpx.get(url, headers=headers, timeout=WAIT).status_code == 401
    for headers in ({"Authorization": "Bearer k"}, {"Authorization": _basic("anyone", "k")},
                    {"Authorization": _basic("", "k")}):
        assert httpx.get(url, headers=headers, timeout=WAIT).status_code == 200


@pytest.mark.parametrize("path", ["/v1/realtime", "/v1/stream"])
def test_websockets_need_the_key(keyed_server, path):
    url = ws_url(keyed_server, path)
    for kwargs in ({}, {"additional_headers": {"Authorization": "Bearer nope"}},
                   {"subprotocols": ["openai-insecure-api-key.nope"]}):
        with pytest.raises(InvalidStatus) as denied:
            connect(url, open_timeout=WAIT, **kwargs)
        assert denied.value.response.status_code == 401
    first = "session.created" if path == "/v1/realtime" else "ready"
    for kwargs in ({"additional_headers": {"Authorization": "Bearer k"}},
                   {"additional_headers": {"Authorization": _basic("me", "k")}},
                   {"subprotocols": ["openai-insecure-api-key.k"]}):
        with connect(url, open_timeout=WAIT, **kwargs) as ws:
            assert json.loads(ws.recv(timeout=WAIT))["type"] == first
            assert ws.subprotocol is None  # the key is never echoed back
    # A browser offering a real subprotocol next to the key gets that one chosen.
    with connect(url, open_timeout=WAIT,
                 subprotocols=["realtime", "openai-insecure-api-key.k"]) as ws:
        assert ws.subprotocol == "realtime"
        assert json.loads(ws.recv(timeout=WAIT))["type"] == first


def test_official_openai_client_with_the_key(keyed_server):
    async def first_event(api_key: str) -> str:
        client = AsyncOpenAI(api_key=api_key, websocket_base_url=ws_url(keyed_server, "/v1"))
        async with client.realtime.connect(model="omnitalk") as connection:
            async with asyncio.timeout(WAIT):
                event = await connection.recv()
            return event.type

    assert asyncio.run(first_event("k")) == "session.created"
    with pytest.raises(InvalidStatus) as denied:
        asyncio.run(first_event("wrong"))
    assert denied.value.response.status_code == 401


# --------------------------------------------------------------------------- 7. static files


def raw_get(base: str, target: str) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (no client-side path normalisation)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=WAIT) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                     .encode("latin-1"))
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


ESCAPES = [
    "/../pyproject.toml", "/../../pyproject.toml", "/../../../../pyproject.toml",
    "/%2e%2e/%2e%2e/pyproject.toml", "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/..%2f..%2f..%2fpyproject.toml", "/..%2f..%2f..%2f..%2fpyproject.toml",
    "/..%5c..%5c..%5cpyproject.toml", "/static/../../../../etc/passwd",
    "/../../../../../../../../etc/passwd", "//etc/passwd", "/%2fetc%2fpasswd",
    "/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fpyproject.toml", "/../app.py", "/%2e%2e/app.py",
    "/..%2fapp.py", "/....//....//pyproject.toml", "/.%2e/.%2e/.%2e/.%2e/pyproject.toml",
]


def test_static_files_stay_inside_the_web_folder(server):
    status, body = raw_get(server, "/app.js")  # the control: a real file is served
    assert status == 200 and body
    status, body = raw_get(server, "/")
    assert status == 200 and b"<html" in body.lower()
    secrets = [
        (Path(__file__).resolve().parents[1] / "pyproject.toml").read_bytes()[:60],
        (Path(__file__).resolve().parents[1] / "src/omnitalk/server/app.py").read_bytes()[:60],
    ]
    if Path("/etc/passwd").exists():
        secrets.append(Path("/etc/passwd").read_bytes()[:20])
    for target in ESCAPES:
        status, body = raw_get(server, target)
        assert status in (400, 404), (target, status)
        assert not any(secret in body for secret in secrets), target


# --------------------------------------------------------------------- 8. limits and readiness


def test_session_limit_refuses_the_extra_client_until_one_leaves():
    with running_server(FakeAssistant.build, max_sessions=1) as base:
        with realtime(base):
            for path in ("/v1/realtime", "/v1/stream"):
                with connect(ws_url(base, path), open_timeout=WAIT) as ws:
                    extra = Client(ws)
                    refusal = extra.next()
                    assert refusal["type"] == "error"
                    code = refusal.get("code") or refusal["error"]["code"]
                    assert code == "session_limit_reached"
                    assert extra.closed_code() == 1013
            assert readyz(base).json()["sessions"] == 1
        wait_for(lambda: readyz(base).json()["sessions"] == 0, "the first session to close")
        with realtime(base) as client:
            configure(client)


def test_not_ready_while_loading_then_ready():
    gate = threading.Event()

    def load():
        assert gate.wait(WAIT)
        return FakeAssistant.build()

    with running_server(load, wait_ready=False) as base:
        try:
            response = readyz(base)
            assert response.status_code == 503 and response.json()["status"] == "loading"
            assert httpx.get(base + "/healthz", timeout=WAIT).status_code == 200
            for path in ("/v1/realtime", "/v1/stream"):
                with connect(ws_url(base, path), open_timeout=WAIT) as ws:
                    client = Client(ws)
                    refusal = client.next()
                    code = refusal.get("code") or refusal["error"]["code"]
                    assert code == "not_ready"
                    assert client.closed_code() == 1013
        finally:
            gate.set()
        wait_for(lambda: readyz(base).status_code == 200, "the models to load")
        with realtime(base) as client:
            configure(client)


def test_failed_load_is_reported():
    def load():
        raise RuntimeError("no models in /nowhere")

    with running_server(load, wait_ready=False) as base:
        body = wait_for(lambda: readyz(base).json()["status"] == "failed" and readyz(base).json(),
                        "the load to fail")
        assert readyz(base).status_code == 503
        assert body["error"] == "RuntimeError: no models in /nowhere"
        with connect(ws_url(base, "/v1/realtime"), open_timeout=WAIT) as ws:
            client = Client(ws)
            refusal = client.next()
            assert refusal["error"]["code"] == "not_ready"
            assert "no models in /nowhere" in refusal["error"]["message"]
            assert client.closed_code() == 1013


# --------------------------------------------------------------------------------- 9. records


def _wav(path: Path) -> tuple[int, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        return wav.getframerate(), wav.getnframes()


def test_session_records_are_written_as_the_session_runs(tmp_path):
    assistant = FakeAssistant.build()
    audio = np.concatenate([silence(0.3), tone(1.0), silence(1.2)])
    with running_server(lambda: assistant, record_dir=tmp_path) as base:
        with stream(base) as client:
            folder = tmp_path / client.events[0]["session_id"]
            for start in range(0, audio.size, 1024):
                client.ws.send(float_to_pcm16(audio[start:start + 1024]))
            client.until("reply_done")
            # The server handles messages in order: once this is answered, all audio is in.
            client.send({"type": "ping"})
            client.expect_error("unknown_event")
            # Crash safety: while the session is open the WAV is already valid and complete.
            assert _wav(folder / "user.wav") == (16000, audio.size)
            lines = (folder / "events.jsonl").read_text().splitlines()
            assert any(json.loads(line)["type"] == "reply_done" for line in lines)
            more = tone(0.5)  # the user speaks over the reply's playback: a barge-in
            client.ws.send(float_to_pcm16(more))
            client.send({"type": "ping"})
            assert client.until("error")[-1]["code"] == "unknown_event"
            assert _wav(folder / "user.wav") == (16000, audio.size + more.size)
        wait_for(lambda: readyz(base).json()["sessions"] == 0, "the session to close")

    records = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    kinds = [r["type"] for r in records]
    for kind in ("speech_started", "speech_stopped", "transcript_final", "reply_started",
                 "reply_audio", "reply_done"):
        assert kind in kinds, kind
    assert [r["text"] for r in records if r["type"] == "transcript_final"][0] == "hello there"
    assert _wav(folder / "user.wav") == (16000, audio.size + more.size)
    rate, frames = _wav(folder / "assistant.wav")
    assert rate == 16000 and frames == spoken_samples(assistant.responder.tts)
    audio_lines = [r for r in records if r["type"] == "reply_audio"]
    assert audio_lines[0]["assistant_offset_s"] == 0.0
    assert sum(r["seconds"] for r in audio_lines) == pytest.approx(frames / 16000, abs=0.01)


def test_realtime_records_include_client_actions(tmp_path):
    with running_server(FakeAssistant.build, record_dir=tmp_path) as base:
        with realtime(base) as client:
            configure(client)
            client.send(user_text("Typed question."))
            client.send({"type": "response.create"})
            client.until("response.done")
        wait_for(lambda: readyz(base).json()["sessions"] == 0, "the session to close")
    [folder] = list(tmp_path.iterdir())
    records = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    kinds = [r["type"] for r in records]
    assert "session.update" in kinds and "conversation.item.create" in kinds
    assert "reply_done" in kinds
    assert kinds.index("conversation.item.create") < kinds.index("reply_done")
    assert _wav(folder / "user.wav") == (16000, 0)



def test_a_realtime_session_starts_from_the_servers_own_turn_settings():
    assistant = FakeAssistant.build()
    assistant.config.session.turn.silence_ms = 300
    assistant.config.session.turn.barge_in_ms = 0
    with running_server(lambda: assistant) as base:
        with connect(ws_url(base, "/v1/realtime"), open_timeout=WAIT) as ws:
            created = json.loads(ws.recv(timeout=WAIT))
    detection = created["session"]["audio"]["input"]["turn_detection"]
    assert detection["silence_duration_ms"] == 300
    assert detection["interrupt_response"] is False


def test_every_runtime_event_type_has_a_wire_name():
    from omnitalk.agent import events as ev
    from omnitalk.server.wire import _EVENT_NAMES

    assert set(ev.Event.__subclasses__()) == set(_EVENT_NAMES)
