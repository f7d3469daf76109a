"""Whisper in a window fitted to the audio: short audio is not encoded as 30 s, and the words
come out as faster-whisper's own 30 s pass gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnitalk.audio.io import load_audio
from omnitalk.engines.asr_faster_whisper import FasterWhisperASR
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
