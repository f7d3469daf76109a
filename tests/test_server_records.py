"""Session records (user.wav, assistant.wav, events.jsonl) and the event names they write."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from fakes import silence, tone
from omnitalk.audio.pcm import float_to_pcm16
from protocol_client import configure, readyz, realtime, spoken_samples, stream, user_text, wait_for
from serving import FakeAssistant, running_server


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


def test_every_runtime_event_type_has_a_wire_name():
    from omnitalk.agent import events as ev
    from omnitalk.server.wire import _EVENT_NAMES

    assert set(ev.Event.__subclasses__()) == set(_EVENT_NAMES)
