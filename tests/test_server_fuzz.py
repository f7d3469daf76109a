"""Hypothesis throws random and mutated client traffic straight at both protocol objects."""

from __future__ import annotations

import asyncio
import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fakes import silence, tone
from omnitalk.audio.pcm import float_to_pcm16
from omnitalk.server.live import LiveSession
from omnitalk.server.realtime import RealtimeProtocol, RealtimeSettings
from omnitalk.server.stream import StreamProtocol
from serving import FakeAssistant

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
