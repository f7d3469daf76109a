"""Spoken questions for the demo and the latency benchmark, synthesised with the TTS engine."""

from __future__ import annotations

import numpy as np

from omnitalk.audio.resample import resample
from omnitalk.engines.base import TTS

QUESTIONS = (
    "What is the capital of France?",
    "How many legs does a spider have?",
    "Can you tell me a fun fact about the moon?",
    "What should I cook for dinner tonight?",
    "Why is the sky blue?",
    "How do I make a cup of tea?",
)


def speak(tts: TTS, text: str, sample_rate: int = 16000, lead_in_s: float = 0.3) -> np.ndarray:
    """`text` as speech at `sample_rate`, after a short silence (as a microphone would start)."""
    pieces = [np.zeros(int(lead_in_s * tts.sample_rate), np.float32)]
    pieces += list(tts.synthesize(text))
    return resample(np.concatenate(pieces), tts.sample_rate, sample_rate)
