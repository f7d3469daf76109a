"""Turn-taking from per-frame speech probabilities: when the user starts, pauses and is done.

A pure state machine (no audio, no models) so that it can be tested frame by frame.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


@dataclass
class TurnConfig:
    threshold: float = 0.5
    # Leaving speech needs the probability to drop this far below `threshold` (hysteresis).
    exit_margin: float = 0.15
    # Speech shorter than this is not a turn (a cough, a click).
    min_speech_ms: int = 250
    # Silence after speech that ends the turn.
    silence_ms: int = 500
    # Speech over a playing reply for this long cancels the reply (barge-in); 0 disables it.
    barge_in_ms: int = 32


class Signal(enum.Enum):
    ONSET = "onset"  # first speech frame after silence
    BARGE_IN = "barge_in"  # speech has lasted barge_in_ms
    STARTED = "started"  # speech has lasted min_speech_ms: a real turn
    PAUSED = "paused"  # speech stopped; the turn may end if silence lasts
    RESUMED = "resumed"  # speech came back before the turn ended
    ENDED = "ended"  # silence lasted silence_ms
    DISCARDED = "discarded"  # speech stopped before min_speech_ms: not a turn


class TurnDetector:
    def __init__(self, config: TurnConfig, frame_seconds: float) -> None:
        self.config = config
        self.frame_seconds = frame_seconds
        self.reset()

    def reset(self) -> None:
        self.in_speech = False  # inside a (possibly unconfirmed) speech region
        self.confirmed = False  # the region has lasted min_speech_ms
        self.speech_start = 0.0
        self.speech_end = 0.0
        self._speech_s = 0.0
        self._silence_s = 0.0
        self._barged = False

    def end(self) -> bool:
        """End the current turn now (the client says the user is done); False if none."""
        if not self.confirmed:
            return False
        self.in_speech = self.confirmed = False
        self._silence_s = 0.0
        return True

    @property
    def active(self) -> bool:
        """The user is in a turn: speaking, or pausing inside a confirmed turn."""
        return self.in_speech or self.confirmed

    def update(self, probability: float, frame_end: float) -> list[Signal]:
        cfg = self.config
        is_speech = probability >= (
            cfg.threshold - cfg.exit_margin if self.in_speech else cfg.threshold
        )
        frame_start = frame_end - self.frame_seconds
        signals: list[Signal] = []
        if is_speech:
            if not self.in_speech:
                if self.confirmed:
                    signals.append(Signal.RESUMED)
                else:
                    signals.append(Signal.ONSET)
                    self.speech_start = frame_start
                    self._speech_s = 0.0
                    self._barged = False
                self.in_speech = True
            self._speech_s += self.frame_seconds
            self._silence_s = 0.0
            self.speech_end = frame_end
            if not self._barged and cfg.barge_in_ms and self._speech_s * 1000 >= cfg.barge_in_ms:
                self._barged = True
                signals.append(Signal.BARGE_IN)
            if not self.confirmed and self._speech_s * 1000 >= cfg.min_speech_ms:
                self.confirmed = True
                signals.append(Signal.STARTED)
            return signals

        if self.in_speech:
            self.in_speech = False
            if not self.confirmed:
                signals.append(Signal.DISCARDED)
                return signals
            signals.append(Signal.PAUSED)
        if self.confirmed:
            self._silence_s += self.frame_seconds
            if self._silence_s * 1000 >= cfg.silence_ms:
                signals.append(Signal.ENDED)
                self.confirmed = False
                self._silence_s = 0.0
        return signals
