"""Rejected client traffic on both protocols: a specific error each, and the session goes on."""

from __future__ import annotations

import base64
import json

import pytest
from websockets.sync.client import connect

from fakes import tone
from protocol_client import (
    LIMIT,
    REPLY,
    WAIT,
    Client,
    b64,
    configure,
    realtime,
    stream,
    types,
    ws_url,
)

# ------------------------------------------------------------------------------------ Realtime


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


# ---------------------------------------------------------------------------------- /v1/stream


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
