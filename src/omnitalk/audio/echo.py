"""Acoustic echo cancellation: the assistant's own voice removed from the microphone.

On loudspeakers the microphone hears the reply, the VAD calls it speech and barge-in cancels
the reply. WebRTC's AEC3 (the canceller browsers use), through the `pywebrtc-audio` package,
subtracts an adaptive estimate of the echo of what was played and suppresses what remains.

Usage: call `played(audio)` with exactly the samples handed to the loudspeaker, as they are
handed over, and pass every microphone chunk through `process(mic)`. Each microphone frame is
paired with the next unconsumed played samples (silence when nothing is playing); AEC3's delay
estimator finds the loudspeaker-to-microphone latency itself, and `delay_ms` is only a hint.

While AEC3 first converges it lets the echo through for a moment, about a second into the
first reply (in simulation: one strongly coupled room in ten, enough for one 32 ms frame to
read as speech and barge in); once converged it does not. So until it has heard `learn_s` of
loudspeaker audio, the output is muted whenever the loudspeaker's echo may be arriving: the
first seconds of the first reply cannot be interrupted, everything after can.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from omnitalk.engines.base import EngineError

INSTALL = "pip install pywebrtc-audio==0.2.0"


@dataclass
class EchoConfig:
    sample_rate: int = 16000
    # Loudspeaker-to-microphone latency hint (ms) for AEC3; 0 lets its delay estimator find it.
    delay_ms: int = 0
    # Loudspeaker audio AEC3 hears before its output is trusted over it (0: trusted at once).
    learn_s: float = 2.0


# How long after the loudspeaker falls silent its echo may still arrive: delay plus reverb.
ECHO_TAIL_S = 0.5
# Quieter played audio than this (-60 dBFS peak) leaves no echo worth muting for.
AUDIBLE = 1e-3


class EchoCanceller:
    """Streaming AEC over 10 ms library frames; `played` and `process` may run on two threads.

    `process` returns exactly as many samples as it is given. They lag the input by one frame
    (10 ms): the first 10 ms out are silence, so any chunk length can be answered at once.
    """

    def __init__(self, config: EchoConfig | None = None) -> None:
        self.config = config or EchoConfig()
        if self.config.sample_rate <= 0 or self.config.sample_rate % 100:
            raise ValueError(
                f"echo cancellation needs a rate with whole 10 ms frames, got "
                f"{self.config.sample_rate} Hz"
            )
        try:
            import pywebrtc_audio
        except ImportError as error:
            raise EngineError(
                f"echo cancellation needs pywebrtc-audio ({error}): `{INSTALL}`"
            ) from None
        self.frame_size = self.config.sample_rate // 100  # AEC3 works on 10 ms frames
        self._aec = pywebrtc_audio.EchoCanceller(
            sample_rate=self.config.sample_rate, num_channels=1,
            stream_delay_ms=self.config.delay_ms,
        )
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget what was played and what the filter learnt (a new room, a new device)."""
        with self._lock:
            self._aec.reset()
            self._far: deque[np.ndarray] = deque()  # played samples no microphone frame used yet
            self._mic = np.zeros(0, np.float32)  # microphone samples short of a whole frame
            self._out = np.zeros(self.frame_size, np.float32)  # cleaned, not yet returned
            self._learn_left = int(self.config.learn_s * self.config.sample_rate)  # samples
            self._echo_left = 0  # samples during which the last audible playback may echo

    def played(self, audio: np.ndarray) -> None:
        """Record samples handed to the loudspeaker (float32 mono at `sample_rate`)."""
        audio = _mono_float32(audio, "played")
        if audio.size:
            with self._lock:
                self._far.append(audio.copy())

    def process(self, mic: np.ndarray) -> np.ndarray:
        """The microphone chunk with the echo of what was played removed (same length)."""
        mic = _mono_float32(mic, "process")
        with self._lock:
            pending = np.concatenate([self._mic, mic])
            whole = pending.size // self.frame_size * self.frame_size
            if whole:
                far = self._take_far(whole)
                # The library splits whole frames itself, bit-exact with one call per frame.
                cleaned = self._aec.process(pending[:whole], far).astype(np.float32, copy=False)
                if self._learn_left > 0:
                    self._mute_while_learning(cleaned, far)
                self._out = np.concatenate([self._out, cleaned])
            self._mic = pending[whole:]
            out, self._out = self._out[: mic.size], self._out[mic.size :]
            return out

    def _mute_while_learning(self, cleaned: np.ndarray, far: np.ndarray) -> None:
        tail = int(ECHO_TAIL_S * self.config.sample_rate)
        for start in range(0, far.size, self.frame_size):
            frame = slice(start, start + self.frame_size)
            if np.abs(far[frame]).max() >= AUDIBLE:
                self._echo_left = self.frame_size + tail  # this frame and its echo's tail
            if self._echo_left > 0 and self._learn_left > 0:
                cleaned[frame] = 0.0
                self._learn_left -= self.frame_size
            self._echo_left = max(0, self._echo_left - self.frame_size)

    def _take_far(self, count: int) -> np.ndarray:
        far = np.zeros(count, np.float32)  # silence once the played audio runs out
        filled = 0
        while filled < count and self._far:
            chunk = self._far[0]
            used = min(chunk.size, count - filled)
            far[filled : filled + used] = chunk[:used]
            filled += used
            if used == chunk.size:
                self._far.popleft()
            else:
                self._far[0] = chunk[used:]
        return far


def _mono_float32(audio: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(audio, np.ndarray) or audio.dtype != np.float32 or audio.ndim != 1:
        shape = getattr(audio, "shape", None)
        dtype = getattr(audio, "dtype", type(audio).__name__)
        raise ValueError(f"{what}() takes 1-D float32 mono audio, got {dtype} of shape {shape}")
    return audio
