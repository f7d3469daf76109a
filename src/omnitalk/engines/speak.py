"""Text said by a TTS engine as 16 kHz microphone-like audio: warm-ups, demo and test questions."""

from __future__ import annotations

import numpy as np

from omnitalk.audio.resample import resample
from omnitalk.engines.base import TTS


def speak(tts: TTS, text: str, sample_rate: int = 16000, lead_in_s: float = 0.3) -> np.ndarray:
    """`text` as speech at `sample_rate`, after a short silence (as a microphone would start)."""
    pieces = [np.zeros(int(lead_in_s * tts.sample_rate), np.float32)]
    pieces += list(tts.synthesize(text))
    return resample(np.concatenate(pieces), tts.sample_rate, sample_rate)
