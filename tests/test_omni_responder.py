"""The end-to-end talker behind the conversation runtime: server, CLI, failures, cancel."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest
import soundfile as sf

from conftest import FIXTURES
from fakes import EnergyVAD, ScriptedASR, SilentTTS, silence, tone
from omni_tiny import write_omni_folder
from omnitalk.agent.responders.base import UserTurn
from omnitalk.agent.responders.omni import OmniResponder
from omnitalk.assistant import AssistantConfig
from omnitalk.codec.snac_frames import SAMPLES_PER_FRAME
from omnitalk.omni.inference import OmniInference
from omnitalk.omni.settings import DecodingOptions, OmniPaths, OmniSettings
from protocol_client import append, configure, pcm_samples, realtime, types, user_text
from serving import FakeAssistant, running_server

STEPS = 20  # each answer: 20 decoding steps, so at most 13 frames of audio


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_omni_folder(tmp_path_factory.mktemp("omni"))


@pytest.fixture(scope="module")
def responder(folder):
    settings = OmniSettings(paths=OmniPaths(checkpoint=str(folder)),
                            decoding=DecodingOptions(max_steps=STEPS))
    return OmniResponder(OmniInference.load(settings))


class RecordingSink:
    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.rates: set[int] = set()
        self.failures: list[tuple[str, str]] = []
        self.clauses: list[str] = []

    def first_token(self) -> None:
        pass

    def clause(self, text: str) -> None:
        self.clauses.append(text)

    def audio(self, samples, sample_rate) -> None:
        self.chunks.append(samples)
        self.rates.add(sample_rate)

    def failed(self, code: str, message: str) -> None:
        self.failures.append((code, message))


def test_spoken_and_typed_turns_are_answered_at_24_khz(responder):
    for turn in (UserTurn(tone(1.0), "hello"), UserTurn(np.zeros(0, np.float32), "hello")):
        sink = RecordingSink()
        responder.respond([], turn, sink, threading.Event())
        samples = sum(a.size for a in sink.chunks)
        assert sink.rates == {24000} and not sink.failures
        assert 0 < samples <= (STEPS - 7) * SAMPLES_PER_FRAME
        assert samples % SAMPLES_PER_FRAME == 0


def test_sessions_asking_at_once_share_decode_steps_and_get_their_own_answers(folder):
    """Two questions answered from two threads, as two server sessions would: one decode step
    serves both, and each gets the frames it gets alone (fp32: rows do not interact)."""
    from omnitalk.omni.inference import AnswerDone

    settings = OmniSettings(paths=OmniPaths(checkpoint=str(folder)), precision="fp32",
                            decoding=DecodingOptions(max_steps=STEPS))
    inference = OmniInference.load(settings)
    questions = [tone(1.0), tone(1.6, amplitude=0.1)]

    def frames(question):
        return next(e for e in inference.answer(question) if isinstance(e, AnswerDone)).frames

    alone = [frames(q) for q in questions]
    assert not np.array_equal(alone[0], alone[1])
    ready = threading.Barrier(2)
    decode = inference.batch.decode

    def decode_together(*args, **kwargs):  # both sessions reach the talker, then ask
        ready.wait(timeout=60)
        return decode(*args, **kwargs)

    inference.batch.decode = decode_together
    together: dict[int, np.ndarray] = {}
    threads = [threading.Thread(target=lambda i=i: together.update({i: frames(questions[i])}))
               for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert inference.batch.widest == 2
    for i in range(2):
        np.testing.assert_array_equal(together[i], alone[i])


def test_too_long_speech_fails_the_reply_with_a_clear_code(responder):
    sink = RecordingSink()
    responder.respond([], UserTurn(tone(31.0), "long"), sink, threading.Event())
    assert sink.failures and sink.failures[0][0] == "audio_too_long"
    assert "31.0 s of speech" in sink.failures[0][1]
    assert not sink.chunks


def test_cancel_stops_the_audio(responder):
    cancel = threading.Event()
    sink = RecordingSink()

    class CancelAfterFirst(RecordingSink):
        def audio(self, samples, sample_rate) -> None:
            sink.chunks.append(samples)
            cancel.set()

    responder.respond([], UserTurn(tone(1.0), "hi"), CancelAfterFirst(), cancel)
    assert len(sink.chunks) == 1


def test_the_server_answers_through_the_talker(responder):
    voice = SilentTTS()
    assistant = FakeAssistant(AssistantConfig(), EnergyVAD(), ScriptedASR("hello there"),
                              responder, voice, {})
    with running_server(lambda: assistant) as base, realtime(base) as client:
        assert configure(client)["model"] == "omnitalk-omni"
        append(client, np.concatenate([silence(0.3), tone(1.0), silence(1.0)]))
        events = client.until("response.done")
        assert "conversation.item.input_audio_transcription.completed" in types(events)
        assert events[-1]["response"]["status"] == "completed"
        spoken = pcm_samples(events)
        assert spoken.size > 0 and spoken.size % SAMPLES_PER_FRAME == 0  # 24 kHz, as decoded
        client.send(user_text("what is up"))
        client.until("conversation.item.created")
        client.send({"type": "response.create"})
        events = client.until("response.done")
        assert events[-1]["response"]["status"] == "completed"
        assert pcm_samples(events).size > 0


@pytest.mark.real_models
def test_talk_cli_answers_with_the_end_to_end_model(folder, tmp_path):
    config = tmp_path / "omni.toml"
    config.write_text(f"[omni.decoding]\nmax_steps = {STEPS}\n")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "omnitalk.cli", "talk", str(FIXTURES / "jfk.flac"), "--fast",
         "--json", "--out-dir", str(out), "--checkpoint", str(folder), "--config", str(config)],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)[0]
    assert "country" in summary["transcript"].lower()  # the session's own ASR heard the turn
    audio, rate = sf.read(summary["reply_wav"])
    assert rate == 24000 and 0 < audio.size <= (STEPS - 7) * SAMPLES_PER_FRAME


def test_a_text_answering_talker_is_spoken_by_the_voice():
    from omnitalk.omni.inference import AnswerDone, TextDelta

    class TextTalker:
        def answer(self, audio, speak=True, cancel=None):
            assert not speak  # the talker is asked for text only
            yield TextDelta("Paris is the capital, ")
            yield TextDelta("and it has 2 million people.")
            yield AnswerDone("", 12, np.zeros((0, 7), np.int64), 0, {})

    voice = SilentTTS()
    responder = OmniResponder(TextTalker(), voice)
    sink = RecordingSink()
    responder.respond([], UserTurn(tone(1.0), "hi"), sink, threading.Event())
    assert sink.clauses == ["Paris is the capital,", "and it has 2 million people."]
    assert voice.spoken == ["Paris is the capital,", "and it has two million people."]
    assert sink.rates == {voice.sample_rate} == {responder.sample_rate}
    assert sum(c.size for c in sink.chunks) > 0
