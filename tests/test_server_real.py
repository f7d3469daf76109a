"""The real server on the real models, driven by the official OpenAI client and a raw PCM client."""

from __future__ import annotations

import asyncio
import base64
import json

import jiwer
import numpy as np
import pytest
import websockets
from openai import AsyncOpenAI

from conftest import FIXTURES
from omnitalk.audio.io import load_audio
from omnitalk.audio.pcm import float_to_pcm16, pcm16_to_float
from omnitalk.audio.resample import resample
from omnitalk.text.wer import normalise_for_wer
from serving import running_server

pytestmark = pytest.mark.real_models

QUESTION = FIXTURES / "common_voice_en_651325.mp3"  # "Every purchase is a vote."


@pytest.fixture(scope="module")
def server(real_assistant):
    with running_server(lambda: real_assistant, max_sessions=4) as base:
        yield base


def question_at(rate: int, trailing_silence_s: float = 1.5) -> np.ndarray:
    audio = resample(load_audio(QUESTION), 16000, rate)
    pad = np.zeros(int(trailing_silence_s * rate), np.float32)
    return np.concatenate([np.zeros(rate // 2, np.float32), audio, pad])


def word_error_rate(reference: str, hypothesis: str) -> float:
    return jiwer.wer(normalise_for_wer(reference), normalise_for_wer(hypothesis))


async def realtime_turn(base: str, beta: bool = False) -> dict:
    """One spoken question through the official client; returns what came back."""
    client = AsyncOpenAI(api_key="unused", websocket_base_url=base.replace("http", "ws") + "/v1")
    realtime = client.beta.realtime if beta else client.realtime
    audio = question_at(24000)
    got: dict = {"types": [], "audio": bytearray(), "transcript_deltas": []}
    async with realtime.connect(model="omnitalk") as connection:
        if beta:
            await connection.session.update(session={
                "input_audio_format": "pcm16", "output_audio_format": "pcm16",
                "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
            })
        else:
            await connection.session.update(session={"type": "realtime", "audio": {
                "input": {"format": {"type": "audio/pcm", "rate": 24000},
                          "turn_detection": {"type": "server_vad", "silence_duration_ms": 500}},
                "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"},
            }})
        for start in range(0, audio.size, 2400):  # 100 ms appends
            chunk = float_to_pcm16(audio[start:start + 2400])
            await connection.input_audio_buffer.append(audio=base64.b64encode(chunk).decode())
        async with asyncio.timeout(120):
            async for event in connection:
                got["types"].append(event.type)
                if event.type == "conversation.item.input_audio_transcription.completed":
                    got["user"] = event.transcript
                elif event.type.endswith("audio.delta"):
                    got["audio"] += base64.b64decode(event.delta)
                elif event.type.endswith("audio_transcript.delta"):
                    got["transcript_deltas"].append(event.delta)
                elif event.type.endswith("audio_transcript.done"):
                    got["assistant"] = event.transcript
                elif event.type == "error":
                    got.setdefault("errors", []).append(event.error.code)
                elif event.type == "response.done":
                    got["status"] = event.response.status
                    break
    return got


@pytest.mark.parametrize("beta", [False, True], ids=["ga", "beta"])
def test_official_openai_client_hears_the_question_and_gets_a_spoken_answer(server, beta):
    got = asyncio.run(realtime_turn(server, beta))
    assert got["status"] == "completed", got.get("errors")
    assert word_error_rate("Every purchase is a vote.", got["user"]) <= 0.25
    prefix = "response.audio" if beta else "response.output_audio"
    for event_type in ("session.created", "session.updated", "input_audio_buffer.speech_started",
                       "input_audio_buffer.speech_stopped", "input_audio_buffer.committed",
                       "conversation.item.created", "response.created", f"{prefix}.delta",
                       f"{prefix}_transcript.delta", f"{prefix}.done", "response.done"):
        assert event_type in got["types"], event_type
    assert got["assistant"] == "".join(got["transcript_deltas"]) != ""
    # Reply audio is 24 kHz PCM16: at least a second of it, and not silence.
    reply = pcm16_to_float(bytes(got["audio"]))
    assert reply.size >= 24000
    assert float(np.sqrt(np.mean(reply**2))) > 0.01


def test_four_sessions_at_once_each_get_a_complete_answer(server):
    async def four():
        return await asyncio.gather(*(realtime_turn(server) for _ in range(4)))

    results = asyncio.run(four())
    for got in results:
        assert got["status"] == "completed", got.get("errors")
        assert got["assistant"] and len(got["audio"]) >= 2 * 24000


def test_raw_pcm_stream_at_48khz_gets_transcript_events_and_48khz_reply_audio(server):
    async def converse() -> tuple[list[dict], bytes]:
        url = server.replace("http", "ws") + "/v1/stream?input_rate=48000"
        events, reply = [], bytearray()
        audio = float_to_pcm16(question_at(48000))
        async with websockets.connect(url) as socket:
            for start in range(0, len(audio), 3072):  # 32 ms at 48 kHz
                await socket.send(audio[start:start + 3072])
            async with asyncio.timeout(120):
                async for message in socket:
                    if isinstance(message, bytes):
                        reply += message
                        continue
                    events.append(json.loads(message))
                    if events[-1]["type"] in ("reply_done", "reply_cancelled"):
                        break
        return events, bytes(reply)

    events, reply = asyncio.run(converse())
    types = [e["type"] for e in events]
    assert types[0] == "ready" and events[0]["output_rate"] == 48000
    assert types.index("speech_started") < types.index("speech_stopped") < types.index("reply_done")
    final = next(e for e in events if e["type"] == "transcript_final")
    assert word_error_rate("Every purchase is a vote.", final["text"]) <= 0.25
    done = events[-1]
    assert done["type"] == "reply_done" and done["text"]
    assert done["timings"]["to_first_audio"] is not None
    # The reply's duration at 48 kHz matches what the clauses say (Piper speaks ~2-4 words/s).
    seconds = len(reply) / 2 / 48000
    assert 0.15 <= seconds / len(done["text"].split()) <= 1.0


# The inputs that left a reply without an end when the prompt outgrew llama.cpp's 2,048-token
# context: every one now ends, and the session answers the next turn.
PROSE = ("The quick brown fox jumps over the lazy dog while the farmer watches from the "
         "porch and wonders about the weather. ")


async def realtime_events(connection, until: str = "response.done") -> list:
    events = []
    async with asyncio.timeout(120):
        async for event in connection:
            events.append(event)
            if event.type == until:
                return events
    raise AssertionError(f"no {until}")


def test_realtime_prompts_too_long_for_the_llm_fail_clearly_and_the_next_turn_is_answered(server):
    async def converse() -> None:
        client = AsyncOpenAI(api_key="unused", websocket_base_url=server.replace("http", "ws") +
                             "/v1")
        async with client.realtime.connect(model="omnitalk") as connection:
            await realtime_events(connection, "session.created")

            async def ask(parts: list[str], **response) -> list:
                await connection.conversation.item.create(item={
                    "type": "message", "role": "user",
                    "content": [{"type": "input_text", "text": part} for part in parts]})
                await connection.response.create(**response)
                return await realtime_events(connection)

            # Instructions of the documented maximum, 32,000 characters.
            await connection.session.update(session={
                "type": "realtime", "instructions": (PROSE * 400)[:32000]})
            await realtime_events(connection, "session.updated")
            events = await ask(["Hello."])
            [error] = [e for e in events if e.type == "error"]
            assert error.error.code == "context_length_exceeded"
            assert "instructions alone" in error.error.message
            assert events[-1].response.status == "failed"

            await connection.session.update(session={"type": "realtime",
                                                     "instructions": "Answer briefly."})
            await realtime_events(connection, "session.updated")
            # One user item of three 32,000-character parts.
            events = await ask([(PROSE * 400)[:32000]] * 3)
            assert events[-1].response.status == "failed"
            assert [e.error.code for e in events if e.type == "error"] == [
                "context_length_exceeded"]
            # Per-response instructions over the cap are refused before anything starts.
            await connection.conversation.item.create(item={
                "type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "Hi."}]})
            await connection.response.create(response={"instructions": "x" * 1_000_000})
            refusal = (await realtime_events(connection, "error"))[-1]
            assert refusal.error.code == "invalid_event"
            assert refusal.error.param == "response.instructions"
            # ...and the next turn is answered (the huge one is history, dropped to fit).
            await connection.response.create()
            events = await realtime_events(connection)
            assert events[-1].response.status == "completed"
            assert not [e for e in events if e.type == "error"]

    asyncio.run(converse())


def test_stream_text_turns_of_the_maximum_length_are_all_answered(server):
    async def converse() -> list[dict]:
        url = server.replace("http", "ws") + "/v1/stream"
        done = []
        async with websockets.connect(url) as socket:
            for turn in range(3):  # the third used to overflow the context
                text = f"Question {turn}: " + (PROSE * 40)[:3980]
                await socket.send(json.dumps({"type": "text", "text": text}))
                async with asyncio.timeout(120):
                    async for message in socket:
                        if isinstance(message, str):
                            event = json.loads(message)
                            if event["type"] in ("reply_done", "reply_cancelled", "error"):
                                done.append(event)
                                break
        return done

    assert [event["type"] for event in asyncio.run(converse())] == ["reply_done"] * 3
