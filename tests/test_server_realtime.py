"""OpenAI Realtime turns (text, manual, server VAD), barge-in, cancels, beta dialect, defaults."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from websockets.sync.client import connect

from fakes import ScriptedLLM, silence, tone
from protocol_client import (
    REPLY,
    SLOW_REPLY,
    WAIT,
    append,
    configure,
    pcm_samples,
    realtime,
    spoken_samples,
    types,
    user_text,
    wait_for,
    ws_url,
)
from serving import FakeAssistant, running_server

SESSION_MANUAL = {"type": "realtime", "audio": {"input": {
    "format": {"type": "audio/pcm", "rate": 16000}, "turn_detection": None,
}}}


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


def test_a_realtime_session_starts_from_the_servers_own_turn_settings():
    assistant = FakeAssistant.build()
    assistant.config.session.turn.silence_ms = 300
    assistant.config.session.turn.barge_in_ms = 0
    assistant.responder.config.system_prompt = "Speak softly."
    with running_server(lambda: assistant) as base:
        with connect(ws_url(base, "/v1/realtime"), open_timeout=WAIT) as ws:
            created = json.loads(ws.recv(timeout=WAIT))
    detection = created["session"]["audio"]["input"]["turn_detection"]
    assert detection["silence_duration_ms"] == 300
    assert detection["interrupt_response"] is False
    # What answers, and its default system prompt, come from the assistant's responder.
    assert created["session"]["model"] == "omnitalk-cascade"
    assert created["session"]["instructions"] == "Speak softly."


def semantic_session(eagerness: str) -> dict:
    return {"type": "realtime", "audio": {"input": {
        "format": {"type": "audio/pcm", "rate": 16000},
        "turn_detection": {"type": "semantic_vad", "eagerness": eagerness},
    }}}


def test_semantic_vad_lets_the_state_head_end_the_turn_at_the_sessions_eagerness():
    from omnitalk.agent.turn_policy import ModelPolicy, ModelPolicyConfig
    from test_turn_policy import ScriptedHead

    head = ScriptedHead()
    assistant = FakeAssistant.build(transcript="What is the capital of France?",
                                    model_policy=ModelPolicy(head, ModelPolicyConfig()))
    with running_server(lambda: assistant) as base, realtime(base) as client:
        session = configure(client, semantic_session("low"))
        detection = session["audio"]["input"]["turn_detection"]
        assert detection["type"] == "semantic_vad" and detection["eagerness"] == "low"
        # Two seconds of silence after the speech: less than eagerness low's backstop under
        # the head (3 s), so only the head can end the turn.
        append(client, np.concatenate([silence(0.3), tone(1.0), silence(2.0)]))
        events = client.until("response.done")
        decisions = [e for e in events if e["type"] == "omnitalk.turn.decision"]
        assert [d["state"] for d in decisions] == ["respond"]
        assert decisions[0]["transcript"] == "What is the capital of France?"
        assert head.thresholds == [0.8]  # eagerness low: the head must be surer
        assert events[-1]["response"]["status"] == "completed"
        # Back to server_vad: the server's own policy (silence) decides again.
        configure(client)
        append(client, np.concatenate([tone(1.0), silence(1.0)]))
        events = client.until("response.done")
    assert not [e for e in events if e["type"] == "omnitalk.turn.decision"]
    assert len(head.asked) == 1


def test_semantic_vad_without_a_head_falls_back_to_silence_by_eagerness():
    assistant = FakeAssistant.build()
    assistant._model_policy_tried = True  # as after a head that failed to load
    with running_server(lambda: assistant) as base, realtime(base) as client:
        session = configure(client, semantic_session("high"))
        assert session["audio"]["input"]["turn_detection"]["type"] == "semantic_vad"
        # 450 ms of silence: enough for eagerness high (300 ms), not for the default 500 ms.
        append(client, np.concatenate([silence(0.3), tone(1.0), silence(0.45)]))
        events = client.until("response.done")
    assert "input_audio_buffer.speech_stopped" in types(events)
    assert not [e for e in events if e["type"] == "omnitalk.turn.decision"]


def test_the_official_openai_client_reads_the_semantic_vad_session():
    import asyncio

    from openai import AsyncOpenAI

    from omnitalk.agent.turn_policy import ModelPolicy, ModelPolicyConfig
    from test_turn_policy import ScriptedHead

    assistant = FakeAssistant.build(model_policy=ModelPolicy(ScriptedHead(), ModelPolicyConfig()))

    async def updated(base: str):
        client = AsyncOpenAI(api_key="unused", websocket_base_url=ws_url(base, "/v1"))
        async with client.realtime.connect(model="omnitalk") as connection:
            async with asyncio.timeout(WAIT):
                assert (await connection.recv()).type == "session.created"
                await connection.session.update(session=semantic_session("high"))
                return await connection.recv()

    with running_server(lambda: assistant) as base:
        event = asyncio.run(updated(base))
    assert event.type == "session.updated"
    detection = event.session.audio.input.turn_detection
    assert (detection.type, detection.eagerness) == ("semantic_vad", "high")
