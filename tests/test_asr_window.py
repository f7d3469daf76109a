"""Whisper in a window fitted to the audio: short audio is not encoded as 30 s, and the words
come out as faster-whisper's own 30 s pass gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnitalk.audio.io import load_audio
from omnitalk.engines.asr_faster_whisper import FasterWhisperASR, without_repetition_loops
from omnitalk.engines.base import ASRConfig
from omnitalk.text.wer import normalise_for_wer

pytestmark = pytest.mark.real_models

SPEECH = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "speech"


@pytest.fixture(scope="module")
def engines():
    return FasterWhisperASR(), FasterWhisperASR(ASRConfig(window_s=30.0))


@pytest.mark.parametrize("name", ["LJ002-0020.wav", "common_voice_en_651325.mp3",
                                  "ES2011a.Headset-0-40s-46s.wav", "2412-153948-0000.flac"])
def test_a_fitted_window_hears_the_same_words_as_the_30_s_window(engines, name):
    fitted, stock = engines
    audio = load_audio(SPEECH / name)
    assert normalise_for_wer(fitted.transcribe(audio)) == normalise_for_wer(stock.transcribe(audio))


def test_short_audio_never_goes_through_the_30_s_path(engines, monkeypatch):
    fitted, _ = engines

    def padded_to_30_s(*args, **kwargs):
        raise AssertionError("short audio took faster-whisper's fixed 30 s window")

    monkeypatch.setattr(fitted._model, "transcribe", padded_to_30_s)
    audio = load_audio(SPEECH / "jfk.flac")  # 11 s: a 12 s window
    assert "country" in fitted.transcribe(audio, prefix="And so my fellow Americans").lower()


def test_silence_and_noise_are_no_words(engines):
    import numpy as np

    fitted, _ = engines
    assert fitted.transcribe(np.zeros(16000, np.float32)) == ""
    noise = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.05
    assert fitted.transcribe(noise) == ""


def test_context_is_a_hint_and_never_part_of_the_words(engines):
    fitted, _ = engines
    audio = load_audio(SPEECH / "common_voice_en_651325.mp3")
    hinted = fitted.transcribe(audio, context="And so my fellow Americans, ask not.")
    assert normalise_for_wer(hinted) == normalise_for_wer(fitted.transcribe(audio))
    assert "americans" not in normalise_for_wer(hinted)


@pytest.mark.parametrize(("decoded", "kept"), [
    # Seen on a 4.7 s piece of real speech: the last phrase, said once, looped to the limit.
    ("Ask what you can do for your country. If the reader will excuse me. If the reader will "
     "excuse me. If the reader will excuse me. If the reader will exc",
     "Ask what you can do for your country. If the reader will excuse me."),
    ("is a vote. i'm abigail claughlin i'm abigail claughlin i'm abigail claughlin you can call",
     "is a vote. i'm abigail claughlin you can call"),
    ("If the reader will excuse me, I will say nothing. If the reader will excuse me, I will "
     "say nothing.", "If the reader will excuse me, I will say nothing."),
    ("the the the the the the the the the the", "the"),
    # What people do say twice or three times stays.
    ("hello hello hello", "hello hello hello"),
    ("I said that I said that", "I said that I said that"),
    ("no no no, not that", "no no no, not that"),
])
def test_a_decoding_loop_is_cut_to_its_first_copy(decoded, kept):
    assert without_repetition_loops(decoded) == kept
