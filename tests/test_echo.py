"""Echo cancellation on a simulated loudspeaker room: the reply's echo no longer barges in.

The room: the played audio, delayed, attenuated and reverberated (an exponentially decaying
noise tail, RT60 0.3 s), plus low background noise; all of it seeded, and the reply is Piper
speech without its sampling noise, so every run hears the same audio.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fakes import ScriptedASR
from omnitalk.agent import events as ev
from omnitalk.agent.session import Session, SessionConfig
from omnitalk.audio.echo import EchoCanceller, EchoConfig
from omnitalk.audio.io import load_audio
from omnitalk.audio.resample import resample
from omnitalk.engines.base import EngineError
from omnitalk.talk import Feeder

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "speech"
RATE = 16000
FRAME = 512
REPLY = ("Sure, here is the weather for today. It will be sunny in the morning, with a few "
         "clouds after lunch, and a light breeze from the west.")
# (delay s, gain) of the loudspeaker-to-microphone path: the ends of the 30-120 ms, 0.3-0.8
# range, and the room where AEC3's first convergence let the echo through most often before
# the canceller learnt to mute it (see omnitalk.audio.echo).
ROOMS = [(0.03, 0.8), (0.12, 0.3), (0.075, 0.6)]


def room_response(delay_s: float, gain: float, seed: int, rt60_s: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    delay, length = int(delay_s * RATE), int(rt60_s * RATE)
    tail = rng.standard_normal(length) * np.exp(-6.9 * np.arange(length) / length)  # -60 dB
    tail *= 0.5 / np.linalg.norm(tail)  # reverberation 6 dB under the direct sound
    tail[0] += 1.0
    response = np.zeros(delay + length)
    response[delay:] = gain * tail
    return response


def echo_of(played: np.ndarray, response: np.ndarray, seed: int,
            noise_dbfs: float = -60.0) -> np.ndarray:
    size = 1 << (played.size + response.size).bit_length()
    echo = np.fft.irfft(np.fft.rfft(played, size) * np.fft.rfft(response, size), size)
    noise = np.random.default_rng(seed + 1).standard_normal(played.size) * 10 ** (noise_dbfs / 20)
    return np.clip(echo[: played.size] + noise, -1, 1).astype(np.float32)


def energy_db(audio: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(audio.astype(np.float64) ** 2)))


def fixture_speech(name: str) -> np.ndarray:
    return load_audio(FIXTURES / name, RATE)


# ------------------------------------------------------------------------- the canceller alone


def test_echo_of_speech_drops_by_more_than_25_db():
    far = fixture_speech("jfk.flac")  # 11 s of a real voice stands in for the reply here
    mic = echo_of(far, room_response(0.08, 0.6, seed=3), seed=3)
    canceller = EchoCanceller()
    cleaned = []
    for start in range(0, far.size, FRAME):
        canceller.played(far[start : start + FRAME])
        cleaned.append(canceller.process(mic[start : start + FRAME]))
    cleaned = np.concatenate(cleaned)
    assert cleaned.size == mic.size
    converged = slice(3 * RATE, far.size)
    erle = energy_db(mic[converged]) - energy_db(cleaned[converged])
    assert erle > 25


def test_output_has_the_input_length_and_does_not_depend_on_chunking():
    far = fixture_speech("LJ002-0020.wav")
    mic = echo_of(far, room_response(0.05, 0.5, seed=4), seed=4)
    outputs = []
    for chunk in (512, 333, 160):
        canceller = EchoCanceller()
        canceller.played(far)
        pieces = [canceller.process(mic[s : s + chunk]) for s in range(0, mic.size, chunk)]
        assert [p.size for p in pieces] == [mic[s : s + chunk].size
                                           for s in range(0, mic.size, chunk)]
        outputs.append(np.concatenate(pieces))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(outputs[0], outputs[2])
    # One 10 ms library frame of delay: the first frame out is the silence it started with.
    assert not outputs[0][:160].any()


def test_the_microphone_passes_while_nothing_plays():
    speech = echo_of(fixture_speech("LJ002-0020.wav"), np.array([1.0]), seed=6)
    cleaned = EchoCanceller().process(speech)
    assert abs(energy_db(cleaned) - energy_db(speech)) < 1.0


def test_until_it_has_learnt_the_output_is_muted_while_echo_may_arrive():
    far = fixture_speech("jfk.flac")[: 4 * RATE]  # audible from 0.06 s on
    far[RATE : 2 * RATE] = 0.0  # a pause: only its first half (the echo tail) is muted
    mic = echo_of(far, room_response(0.08, 0.6, seed=6), seed=6)
    canceller = EchoCanceller()  # learns for 2 s of loudspeaker: 0.06-1.5 s, then 2.0-2.56 s
    canceller.played(far)
    cleaned = canceller.process(mic)[160:]  # without the 10 ms the canceller delays by

    def heard(start_s: float, end_s: float) -> bool:
        return bool(cleaned[int(start_s * RATE) : int(end_s * RATE)].any())

    assert not heard(0.1, 1.5)
    assert heard(1.5, 2.0)
    assert not heard(2.0, 2.55)
    assert heard(2.6, 3.9)


def test_reset_forgets_the_played_audio():
    far = fixture_speech("LJ002-0020.wav")
    mic = echo_of(far, room_response(0.05, 0.5, seed=5), seed=5)
    fresh, reused = EchoCanceller(), EchoCanceller()
    reused.played(np.ones(RATE, np.float32))
    reused.process(np.zeros(RATE // 2, np.float32))
    reused.reset()
    for canceller in (fresh, reused):
        canceller.played(far)
    np.testing.assert_array_equal(fresh.process(mic), reused.process(mic))


@pytest.mark.parametrize("audio", [
    np.zeros(512, np.int16), np.zeros(512, np.float64), np.zeros((512, 1), np.float32), [0.0] * 8,
])
def test_wrong_audio_is_a_value_error(audio):
    canceller = EchoCanceller()
    with pytest.raises(ValueError, match="1-D float32"):
        canceller.process(audio)
    with pytest.raises(ValueError, match="1-D float32"):
        canceller.played(audio)


def test_a_rate_without_whole_10_ms_frames_is_a_value_error():
    with pytest.raises(ValueError, match="10 ms"):
        EchoCanceller(EchoConfig(sample_rate=22050))


def test_missing_library_names_the_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "pywebrtc_audio", None)  # import now raises ImportError
    with pytest.raises(EngineError, match="pip install pywebrtc-audio=="):
        EchoCanceller()


# ------------------------------------------------------ a real session hearing its own voice


class SpokenReply:
    """A responder that says one fixed reply in real Piper speech."""

    name = "spoken-reply"
    default_instructions = ""

    def __init__(self, chunks: list[np.ndarray], sample_rate: int) -> None:
        self.chunks, self._sample_rate = chunks, sample_rate

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def warm_up(self) -> None:
        pass

    def respond(self, history, turn, sink, cancel: threading.Event, instructions=None) -> None:
        sink.first_token()
        sink.clause(REPLY)
        for chunk in self.chunks:
            if cancel.is_set():
                return
            sink.audio(chunk, self._sample_rate)


@pytest.fixture(scope="module")
def piper_reply() -> SpokenReply:
    from omnitalk.engines.tts_piper import PiperTTS, VoiceStyle

    tts = PiperTTS()
    same_every_time = VoiceStyle(noise_scale=0.0, noise_w_scale=0.0)
    return SpokenReply(list(tts.synthesize(REPLY, same_every_time)), tts.sample_rate)


@pytest.fixture(scope="module")
def silero():
    from omnitalk.engines.vad_silero import SileroVAD

    return SileroVAD()


def converse(silero, responder: SpokenReply, room: tuple[float, float], seed: int,
             canceller: EchoCanceller | None, feed_reference: bool = True,
             interruption: np.ndarray | None = None, interrupt_at_s: float = 0.0):
    """A user turn, then the reply played into the room while the microphone hears it.

    Returns every event and the session time at which the reply began to play.
    """
    feeder = Feeder(realtime=False)
    session = Session(silero.fork(), ScriptedASR("what is the weather"), responder,
                      SessionConfig(), feeder.on_event)
    feeder.session = session
    clean = canceller.process if canceller is not None else (lambda mic: mic)
    # The question, then quiet until the turn ends: the reply plays from the next frame on.
    question = np.concatenate([fixture_speech("LJ002-0020.wav"), np.zeros(2 * RATE, np.float32)])
    question = echo_of(question, np.array([1.0]), seed)  # the same noise floor as the room
    for start in range(0, question.size, FRAME):
        feeder.feed(clean(question[start : start + FRAME]))
        if any(isinstance(e, ev.SpeechStopped) for e in feeder.snapshot()):
            break
    deadline = time.monotonic() + 30
    while not any(isinstance(e, ev.ReplyDone) for e in feeder.snapshot()):
        assert time.monotonic() < deadline, "the reply never finished"
        time.sleep(0.01)
    emitted = [e for e in feeder.snapshot() if isinstance(e, ev.ReplyAudio)]
    played = resample(np.concatenate([e.audio for e in emitted]), emitted[0].sample_rate, RATE)
    played = np.concatenate([played, np.zeros(RATE // 2, np.float32)])  # and the room's tail
    mic = echo_of(played, room_response(*room, seed=seed), seed)
    reply_starts_at = session.audio_time
    if interruption is not None:
        at = int(interrupt_at_s * RATE)
        speech = interruption[: mic.size - at]
        mic[at : at + speech.size] += speech
    for start in range(0, mic.size, FRAME):
        if canceller is not None and feed_reference:
            canceller.played(played[start : start + FRAME])
        feeder.feed(clean(mic[start : start + FRAME]))
        if not session.is_speaking:
            break
    session.close()
    return feeder.snapshot(), reply_starts_at


def barge_ins(events) -> list[ev.ReplyCancelled]:
    return [e for e in events if isinstance(e, ev.ReplyCancelled) and e.reason == "barge-in"]


@pytest.mark.real_models
@pytest.mark.parametrize("room", ROOMS)
def test_the_reply_echo_cancels_the_reply_without_aec(silero, piper_reply, room):
    """The failure this module exists for: the assistant interrupts itself."""
    events, _ = converse(silero, piper_reply, room, seed=7, canceller=None)
    assert barge_ins(events)


@pytest.mark.real_models
@pytest.mark.parametrize("room", ROOMS)
def test_with_aec_the_reply_echo_does_not_barge_in(silero, piper_reply, room):
    events, _ = converse(silero, piper_reply, room, seed=7, canceller=EchoCanceller())
    assert any(isinstance(e, ev.ReplyDone) for e in events)
    assert not barge_ins(events)
    assert not [e for e in events if isinstance(e, ev.ReplyCancelled)]


@pytest.mark.real_models
def test_aec_without_the_played_reference_does_not_help(silero, piper_reply):
    """A canceller fed the wrong reference is caught: the echo barges in again."""
    events, _ = converse(silero, piper_reply, ROOMS[0], seed=7, canceller=EchoCanceller(),
                         feed_reference=False)
    assert barge_ins(events)


@pytest.mark.real_models
@pytest.mark.parametrize("room", ROOMS)
def test_with_aec_a_real_interruption_still_cancels_the_reply(silero, piper_reply, room):
    person = 0.8 * fixture_speech("jfk.flac")  # another voice, over the reply's echo
    events, reply_start = converse(silero, piper_reply, room, seed=8, canceller=EchoCanceller(),
                                   interruption=person, interrupt_at_s=2.5)
    [cancelled] = barge_ins(events)
    # Caused by the interruption (in audio time), not by the echo before it.
    assert cancelled.audio_time >= reply_start + 2.5
    assert cancelled.audio_time <= reply_start + 2.5 + 1.5


# ------------------------------------------------------------ `omnitalk chat` on the same room


class Room:
    """Stands in for sounddevice: what the speaker plays comes back to the microphone.

    The microphone runs at four times real time; the chat loop is ended (as by Ctrl+C) once
    the reply has played out or been cancelled.
    """

    delay_s, gain = 0.06, 0.6

    def __init__(self, question: np.ndarray, events: list[ev.Event]) -> None:
        self.question, self.events = question, events
        self.speaker = np.zeros(0, np.float32)  # written, at 16 kHz, not yet heard
        self.heard = np.zeros(int(self.delay_s * RATE), np.float32)  # the speaker, delayed
        self._lock = threading.Lock()
        self.stop = threading.Event()  # the person presses Ctrl+C
        self.closed = threading.Event()  # run_chat has returned
        room = self

        class OutputStream:
            def __init__(self, samplerate, channels, dtype):
                self.rate = samplerate

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def write(self, audio):
                with room._lock:
                    room.speaker = np.concatenate(
                        [room.speaker, resample(audio[:, 0], self.rate, RATE)])

        class InputStream:
            def __init__(self, samplerate, channels, dtype, blocksize, callback):
                self.callback, self.blocksize = callback, blocksize

            def __enter__(self):
                threading.Thread(target=room._capture, args=(self,), daemon=True).start()
                return self

            def __exit__(self, *exc):
                return False

        self.OutputStream, self.InputStream = OutputStream, InputStream

    def _capture(self, stream) -> None:
        noise = np.random.default_rng(9)
        block, fed, finished_at = stream.blocksize, 0, None
        for _ in range(int(60 * RATE / block)):
            with self._lock:
                out, self.speaker = self.speaker[:block], self.speaker[block:]
            self.heard = np.concatenate([self.heard, out, np.zeros(block - out.size, np.float32)])
            mic, self.heard = self.gain * self.heard[:block], self.heard[block:]
            mic = mic + noise.standard_normal(block).astype(np.float32) * 1e-3
            if fed < self.question.size:
                mic[: self.question[fed : fed + block].size] += self.question[fed : fed + block]
            fed += block
            stream.callback(mic.astype(np.float32).reshape(-1, 1), block, None, None)
            time.sleep(block / RATE / 4)
            if any(isinstance(e, ev.ReplyCancelled) for e in self.events):
                break
            if finished_at is None and any(isinstance(e, ev.ReplyDone) for e in self.events):
                finished_at = fed
            if finished_at is not None and not self.speaker.size and fed > finished_at + RATE:
                break
        # Ctrl+C, as the chat loop sees it when it next takes a block (not as an asynchronous
        # interrupt, which could land while a lock is held). A full queue drops a block, so
        # keep waking the loop until the chat has returned.
        self.stop.set()
        while not self.closed.wait(0.01):
            stream.callback(np.zeros((block, 1), np.float32), block, None, None)


def chat_in_the_room(monkeypatch, silero, responder: SpokenReply, echo_cancel: bool):
    from omnitalk import chat
    from omnitalk.agent.turn_policy import VadPolicy
    from omnitalk.assistant import Assistant, AssistantConfig

    events: list[ev.Event] = []

    class RecordingAssistant(Assistant):
        def new_session(self, on_event=None, name="session"):
            return super().new_session(lambda e: (events.append(e), on_event(e)), name)

    assistant = RecordingAssistant(AssistantConfig(), silero, ScriptedASR("what is the weather"),
                                   responder, None, {}, VadPolicy())
    question = np.concatenate([fixture_speech("LJ002-0020.wav"), np.zeros(RATE, np.float32)])
    room = Room(question, events)
    monkeypatch.setattr(chat, "_open_devices", lambda: (room, {"default_samplerate": RATE}))

    class CtrlC(chat.StreamResampler):
        def process(self, chunk, last=False):
            if room.stop.is_set():
                raise KeyboardInterrupt
            return super().process(chunk, last)

    monkeypatch.setattr(chat, "StreamResampler", CtrlC)
    monkeypatch.setattr(Assistant, "load", classmethod(lambda cls, config: assistant))
    try:
        assert chat.run_chat(AssistantConfig(), echo_cancel=echo_cancel) == 0
    finally:
        room.closed.set()
    return events


@pytest.mark.real_models
def test_chat_cancels_the_echo_of_what_it_plays(monkeypatch, silero, piper_reply):
    events = chat_in_the_room(monkeypatch, silero, piper_reply, echo_cancel=True)
    assert any(isinstance(e, ev.ReplyDone) for e in events)
    assert not barge_ins(events)


@pytest.mark.real_models
def test_chat_without_echo_cancellation_interrupts_itself(monkeypatch, silero, piper_reply):
    events = chat_in_the_room(monkeypatch, silero, piper_reply, echo_cancel=False)
    assert barge_ins(events)


@pytest.mark.real_models
def test_chat_warns_and_runs_on_when_the_library_is_missing(monkeypatch, capsys, silero,
                                                            piper_reply):
    monkeypatch.setitem(sys.modules, "pywebrtc_audio", None)
    events = chat_in_the_room(monkeypatch, silero, piper_reply, echo_cancel=True)
    assert "pip install pywebrtc-audio==" in capsys.readouterr().err
    assert barge_ins(events)  # it ran, without the canceller
