"""Small deterministic engines for testing the conversation runtime without models."""

from __future__ import annotations

import threading
import time

import numpy as np

from omnitalk.engines.base import ChatMessage, EngineError
from omnitalk.engines.scheduler import CPU

RATE = 16000
FRAME = 512


def tone(seconds: float, amplitude: float = 0.3) -> np.ndarray:
    """Stands in for speech: the fake VAD hears any loud frame as speech."""
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), np.float32)


class EnergyVAD:
    sample_rate = RATE
    frame_size = FRAME

    def speech_probability(self, frame: np.ndarray) -> float:
        return 1.0 if float(np.sqrt(np.mean(frame**2))) > 0.01 else 0.0

    def reset(self) -> None:
        pass

    def fork(self) -> EnergyVAD:
        return EnergyVAD()


class ScriptedASR:
    sample_rate = RATE

    def __init__(self, text: str = "hello there") -> None:
        self.text = text
        self.calls: list[tuple[float, str]] = []  # (seconds of audio, prefix)
        self.contexts: list[str] = []
        self._lock = threading.Lock()

    def transcribe(self, audio: np.ndarray, prefix: str = "", context: str = "") -> str:
        with self._lock:
            self.calls.append((audio.size / RATE, prefix))
            self.contexts.append(context)
        return self.text


class ScriptedLLM:
    """Streams a fixed reply word by word; can fail (an EngineError, or `crash` raised as it
    is, like an engine's unforeseen exception) or be slow. A token is a word."""

    def __init__(self, reply: str, fail_times: int = 0, delay_s: float = 0.0,
                 prompt_limit: int = 100_000, crash: Exception | None = None,
                 order: list | None = None, tag: str = "") -> None:
        """`order`: a list, maybe shared by several LLMs, that gets (tag, word) as each word
        is computed."""
        self.reply = reply
        self.order = order
        self.tag = tag
        self.fail_times = fail_times
        self.delay_s = delay_s
        self.prompt_limit = prompt_limit
        self.crash = crash
        self.prompts: list[list[ChatMessage]] = []
        self.cancelled = threading.Event()

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def warm_up(self, messages: list[ChatMessage]) -> None:
        pass

    def stream_chat(self, messages, cancel=None, max_tokens=None, deadline=None):
        """Like a local engine, each word is a step in the process's scheduler (`deadline`)."""
        self.prompts.append(list(messages))
        if self.crash is not None:
            crash, self.crash = self.crash, None
            raise crash
        if self.fail_times > 0:
            self.fail_times -= 1
            raise EngineError("LLM endpoint http://127.0.0.1:9/v1 is unreachable: refused")
        for word in self.reply.split(" "):
            if cancel is not None and cancel.is_set():
                self.cancelled.set()
                return
            with CPU.turn(deadline() if deadline is not None else time.perf_counter(), "llm"):
                time.sleep(self.delay_s)
                if self.order is not None:
                    self.order.append((self.tag, word))
            yield word + " "


class SilentTTS:
    """`seconds_per_word` of low noise per word, so played time maps to words."""

    sample_rate = RATE

    def __init__(self, seconds_per_word: float = 0.25) -> None:
        self.seconds_per_word = seconds_per_word
        self.spoken: list[str] = []

    def synthesize(self, text: str):
        self.spoken.append(text)
        samples = int(len(text.split()) * self.seconds_per_word * RATE)
        yield np.full(samples, 0.001, np.float32)
