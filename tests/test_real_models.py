"""The assistant on its real packaged models: Silero, Whisper tiny.en, SmolLM2, Piper."""

from __future__ import annotations

import json
from pathlib import Path

import jiwer
import numpy as np
import pytest
import soundfile as sf

from omnitalk.agent import events as ev
from omnitalk.assistant import Assistant
from omnitalk.audio.io import load_audio
from omnitalk.audio.resample import resample
from omnitalk.bench import asr as asr_bench
from omnitalk.bench.latency import long_turn
from omnitalk.cli import main
from omnitalk.engines.speak import speak
from omnitalk.talk import Feeder, run_turns
from omnitalk.text.wer import normalise_for_wer

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "speech"
pytestmark = pytest.mark.real_models


@pytest.fixture(scope="module")
def assistant(real_assistant) -> Assistant:
    return real_assistant


def wer(reference: str, hypothesis: str) -> float:
    return jiwer.wer(normalise_for_wer(reference), normalise_for_wer(hypothesis))


def test_asr_word_error_rate_on_real_speech_is_under_15_percent(assistant):
    assert asr_bench.run(assistant.asr, FIXTURES, repeats=1) <= 0.15


def test_talk_answers_two_questions_in_a_row_with_speech_that_matches_its_text(
    assistant, tmp_path, capsys
):
    """`omnitalk talk` end to end: a 48 kHz stereo WAV, then an 8 kHz mono FLAC."""
    tts = assistant.responder.tts
    first = resample(speak(tts, "What is the capital of France?"), 16000, 48000)
    sf.write(tmp_path / "q1.wav", np.stack([first, first], axis=1), 48000)
    second = resample(speak(tts, "How many legs does a spider have?"), 16000, 8000)
    sf.write(tmp_path / "q2.flac", second, 8000)
    out = tmp_path / "out"

    code = main(["talk", str(tmp_path / "q1.wav"), str(tmp_path / "q2.flac"),
                 "--out-dir", str(out), "--fast", "--json"])

    assert code == 0
    turns = [json.loads((out / f"turn_0{i}.json").read_text()) for i in (1, 2)]
    assert json.loads(capsys.readouterr().out) == turns
    assert wer("What is the capital of France?", turns[0]["transcript"]) <= 0.2
    assert wer("How many legs does a spider have?", turns[1]["transcript"]) <= 0.2
    for turn in turns:
        assert turn["reply_text"].strip()
        reply_audio = load_audio(turn["reply_wav"])
        assert reply_audio.size > 16000 * 0.3
        heard = assistant.asr.transcribe(reply_audio)
        assert wer(turn["reply_text"], heard) <= 0.35, (turn["reply_text"], heard)
        timings = turn["timings"]
        assert set(timings) == {
            "end_of_speech_to_turn_end", "end_of_speech_to_final_transcript",
            "to_first_llm_token", "to_first_audio", "total",
        }
        assert all(value is not None and value > 0 for value in timings.values())


def _trim_leading_silence(audio: np.ndarray) -> np.ndarray:
    window = 160  # 10 ms
    energy = np.sqrt(np.mean(audio[: audio.size // window * window].reshape(-1, window) ** 2, 1))
    start = int(np.argmax(energy > 0.1 * energy.max()))
    return audio[start * window :]


class HeardLengths:
    """The ASR, noting how much audio each pass heard."""

    sample_rate = 16000

    def __init__(self, asr) -> None:
        self.asr, self.seconds = asr, []

    def transcribe(self, audio, prefix="", context=""):
        self.seconds.append(audio.size / self.sample_rate)
        return self.asr.transcribe(audio, prefix, context)


def test_a_60_s_turn_is_transcribed_whole_in_committed_pieces_and_answered_once(assistant):
    clips = [(load_audio(path), text) for path, text in asr_bench.read_fixtures(FIXTURES)]
    audio, reference = long_turn(clips, 60.0, assistant.vad.fork())
    assert audio.size / 16000 > 55  # over Whisper's 30 s window
    feeder = Feeder(realtime=False)
    session = feeder.session = assistant.new_session(on_event=feeder.on_event)
    session.asr = heard = HeardLengths(assistant.asr)
    [result] = run_turns(session, feeder, [audio])
    session.close()
    assert result.user_turns == 1 and result.reply_text
    assert wer(reference, result.transcript) <= 0.1
    # Committed at its pauses: no pass heard more than a piece of the turn.
    assert max(heard.seconds) < 15


def test_barge_in_cancels_within_100_ms_and_history_keeps_the_heard_part(assistant):
    feeder = Feeder(realtime=False)
    session = feeder.session = assistant.new_session(on_event=feeder.on_event)
    question = speak(assistant.responder.tts, "Can you tell me a fun fact about the moon?")
    session.feed(question)
    assert feeder.feed_silence_until(
        lambda _: any(isinstance(e, ev.ReplyDone) for e in feeder.snapshot()), 30
    )
    [done] = [e for e in feeder.snapshot() if isinstance(e, ev.ReplyDone)]
    session.feed(np.zeros(int(0.3 * 16000), np.float32))  # the user hears 0.3 s of the reply
    interruption = _trim_leading_silence(load_audio(FIXTURES / "common_voice_en_651325.mp3"))
    speech_at = session.audio_time
    for start in range(0, interruption.size, 512):
        session.feed(interruption[start : start + 512])
        if any(isinstance(e, ev.ReplyCancelled) for e in feeder.snapshot()):
            break
    [cancelled] = [e for e in feeder.snapshot() if isinstance(e, ev.ReplyCancelled)]
    assert cancelled.reason == "barge-in"
    assert cancelled.audio_time - speech_at <= 0.1
    assert cancelled.played_seconds < 0.5
    assert len(cancelled.played_text.split()) < len(done.text.split())
    assistant_turns = [m.content for m in session.history if m.role == "assistant"]
    assert assistant_turns in ([], [cancelled.played_text])
    assert session.history[0].role == "user"
    session.close()


def test_silence_only_input_gets_no_reply(assistant):
    feeder = Feeder(realtime=False)
    session = feeder.session = assistant.new_session(on_event=feeder.on_event)
    noise = np.random.default_rng(0).normal(0, 0.001, 16000 * 3).astype(np.float32)
    [result] = run_turns(session, feeder, [noise])
    assert not result.speech_detected
    assert session.history == []
    session.close()


def test_empty_stream_is_harmless(assistant):
    session = assistant.new_session()
    session.feed(np.zeros(0, np.float32))
    assert session.events() == [] and session.audio_time == 0
    session.close()


def test_a_dead_llm_endpoint_gives_a_clear_error_event(assistant):
    from omnitalk.agent.responders.cascade import CascadeResponder
    from omnitalk.agent.session import Session
    from omnitalk.engines import registry
    from omnitalk.engines.base import LLMConfig, VADConfig

    dead = registry.create("llm", LLMConfig(backend="openai", model="m",
                                            base_url="http://127.0.0.1:9/v1", timeout_s=2))
    feeder = Feeder(realtime=False)
    session = feeder.session = Session(
        registry.create("vad", VADConfig()), assistant.asr,
        CascadeResponder(dead, assistant.responder.tts), on_event=feeder.on_event,
    )
    question = speak(assistant.responder.tts, "What time is it?")
    [result] = run_turns(session, feeder, [question])
    assert result.transcript
    assert any("llm_error" in e and "unreachable" in e for e in result.errors)
    session.close()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"RIFF\x00\x00\x00\x00WAVEgarbage" * 20, "not a readable audio file"),
    ],
)
def test_talk_rejects_bad_files_with_a_clear_message(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    assert main(["talk", str(bad), "--out-dir", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err


def test_talk_rejects_a_two_hour_file_without_reading_it(tmp_path, capsys):
    path = tmp_path / "long.flac"
    with sf.SoundFile(path, "w", samplerate=8000, channels=1, format="FLAC") as out:
        block = np.zeros(8000 * 60, np.float32)
        for _ in range(120):
            out.write(block)
    assert main(["talk", str(path), "--out-dir", str(tmp_path / "out")]) == 2
    assert "over the limit" in capsys.readouterr().err


def test_models_lists_every_packaged_model_with_existing_files(capsys):
    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    names = ("silero-vad", "whisper-tiny.en", "smollm2-135m-instruct", "piper-en_US-joe-medium")
    assert all(name in listing for name in names)
    assert "not installed" not in listing


def test_transformers_backend_streams_the_packaged_gguf_and_stops_on_cancel():
    import threading

    from omnitalk.engines import registry
    from omnitalk.engines.base import ChatMessage, LLMConfig

    llm = registry.create("llm", LLMConfig(backend="transformers", temperature=0.0))
    messages = [ChatMessage("user", "What is the capital of France?")]
    assert "".join(llm.stream_chat(messages)).strip()
    cancel = threading.Event()
    deltas = []
    for delta in llm.stream_chat([ChatMessage("user", "Tell me a long story.")], cancel):
        deltas.append(delta)
        cancel.set()
    assert len(deltas) == 1


def test_chat_without_a_sound_device_says_why(capsys):
    assert main(["chat"]) == 2
    message = capsys.readouterr().err
    assert "omnitalk talk" in message and ("microphone" in message or "audio I/O" in message)


def test_llama_cpp_replies_at_once_are_decoded_together_and_a_conversation_keeps_its_cache(
        assistant):
    """SmolLM2 through llama.cpp: a reply asked for while another is being written joins the
    same decode steps (their pieces interleave) instead of waiting for it; the next turn of a
    conversation goes back to the sequence that holds it, and a repeated prompt gives the same
    greedy answer from its cache as from scratch."""
    import threading

    from omnitalk.engines.base import ChatMessage, LLMConfig
    from omnitalk.engines.llm_llama_cpp import LlamaCppLLM

    llm = LlamaCppLLM(LLMConfig(temperature=0.0, parallel=2))
    system = ChatMessage("system", "You are a helpful assistant.")
    counting = [system, ChatMessage("user", "Count from one to fifty, in words.")]
    greeting = [system, ChatMessage("user", "Say hello.")]
    order: list[str] = []
    texts = {"a": [], "b": []}
    a_started = threading.Event()

    def reply(tag: str, messages: list[ChatMessage]) -> None:
        for delta in llm.stream_chat(messages):
            order.append(tag)
            texts[tag].append(delta)
            a_started.set()

    a = threading.Thread(target=reply, args=("a", counting))
    a.start()
    a_started.wait(timeout=60)
    b = threading.Thread(target=reply, args=("b", greeting))
    b.start()
    a.join(timeout=120)
    b.join(timeout=120)
    first_b, last_b = order.index("b"), len(order) - 1 - order[::-1].index("b")
    assert "a" in order[first_b:last_b]  # a went on while b was written
    alone = "".join(llm.stream_chat(greeting))  # b's sequence, its prompt cached
    assert alone == "".join(texts["b"]) and alone.strip()
    held = llm._decoder._held
    next_turn = [*greeting, ChatMessage("assistant", alone), ChatMessage("user", "Again.")]
    assert "".join(llm.stream_chat(next_turn)).strip()
    assert sum(len(tokens) > 0 for tokens in held) == 2  # each conversation kept its sequence


def test_llama_cpp_models_loaded_at_once_leave_stdout_and_stderr_where_they_were():
    """Each load silences llama.cpp by pointing fds 1 and 2 at /dev/null and back; loads that
    overlap must not leave them there (the bench's tables and the server's log vanished)."""
    import os
    import threading

    from omnitalk.engines.base import LLMConfig
    from omnitalk.engines.llm_llama_cpp import LlamaCppLLM

    before = [os.fstat(fd).st_ino for fd in (1, 2)]
    start = threading.Barrier(4)

    def load() -> None:
        start.wait()
        LlamaCppLLM(LLMConfig(parallel=1, context_tokens=256, max_tokens=16))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert [os.fstat(fd).st_ino for fd in (1, 2)] == before


def test_a_llama_cpp_reply_cancelled_while_it_waits_for_a_sequence_ends_before_it_starts():
    """One sequence, busy with a long reply: a second reply cancelled while it waits returns at
    once, without waiting for the first to end, and has written nothing."""
    import threading

    from omnitalk.engines.base import ChatMessage, LLMConfig
    from omnitalk.engines.llm_llama_cpp import LlamaCppLLM

    llm = LlamaCppLLM(LLMConfig(temperature=0.0, parallel=1))
    ended: list[str] = []
    started = threading.Event()

    def long_reply() -> None:
        for _ in llm.stream_chat([ChatMessage("user", "Count from one to fifty, in words.")]):
            started.set()
        ended.append("long")

    cancel = threading.Event()
    writer = threading.Thread(target=long_reply)
    writer.start()
    started.wait(timeout=60)
    waiting = llm.stream_chat([ChatMessage("user", "Say hello.")], cancel)
    cancel.set()
    assert list(waiting) == []
    ended.append("cancelled")
    writer.join(timeout=120)
    assert ended == ["cancelled", "long"]
