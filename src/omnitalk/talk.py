"""Play audio into a session as a stream of user turns and collect what comes back.

Used by `omnitalk talk`, the latency benchmark and the tests. In real-time mode audio is fed at
the speed it would come from a microphone; `realtime=False` feeds it as fast as the session
takes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from omnitalk.agent import events as ev
from omnitalk.agent.session import Session

FRAME = 512


@dataclass
class TurnResult:
    transcript: str = ""
    reply_text: str = ""
    timings: dict[str, float | None] = field(default_factory=dict)
    reply_audio: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32), repr=False)
    sample_rate: int = 0
    cancelled: str = ""  # the reason, when the reply did not finish
    errors: list[str] = field(default_factory=list)
    speech_detected: bool = True
    user_turns: int = 0  # an input with long pauses is several turns; the reply is the last's


class Feeder:
    """Feeds audio into a session (paced or not) and records every event with its arrival."""

    def __init__(self, session: Session | None = None, realtime: bool = True) -> None:
        # The session may be attached after construction, so that it can be built with
        # `on_event=feeder.on_event`.
        self.session = session
        self.realtime = realtime
        self.events: list[ev.Event] = []
        self._lock = threading.Lock()
        self._start = time.perf_counter()
        self._fed = 0

    def on_event(self, event: ev.Event) -> None:
        with self._lock:
            self.events.append(event)

    def snapshot(self) -> list[ev.Event]:
        with self._lock:
            return list(self.events)

    def feed(self, audio: np.ndarray) -> None:
        for start in range(0, len(audio), FRAME):
            self._feed_frame(audio[start : start + FRAME])

    def feed_silence_until(self, done: Callable[[float], bool], max_seconds: float) -> bool:
        """Feed silence until `done(seconds_fed)` is true; False if `max_seconds` pass first
        (of audio, or of waiting: a reply that hangs must not hang the caller)."""
        silence = np.zeros(FRAME, np.float32)
        fed = 0.0
        deadline = time.perf_counter() + max_seconds
        while fed < max_seconds and time.perf_counter() < deadline:
            if done(fed):
                return True
            if not self.realtime and (self.session.is_generating or self.session.is_deciding):
                # Hold the audio clock while the reply is made or the turn policy judges the
                # pause, as a listener would wait.
                time.sleep(0.005)
                continue
            self._feed_frame(silence)
            fed += FRAME / self.session.sample_rate
        return done(fed)

    def _feed_frame(self, frame: np.ndarray) -> None:
        if self.realtime:
            due = self._start + self._fed / self.session.sample_rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        self.session.feed(frame)
        self._fed += frame.size


def run_turns(
    session: Session, feeder: Feeder, turns: list[np.ndarray], max_reply_seconds: float = 60.0
) -> list[TurnResult]:
    return list(iter_turns(session, feeder, turns, max_reply_seconds))


def iter_turns(
    session: Session, feeder: Feeder, turns: list[np.ndarray], max_reply_seconds: float = 60.0
) -> Iterator[TurnResult]:
    """Each audio in `turns` is one user turn; yields each result once its reply has played."""
    give_up_after = session.config.turn.silence_ms / 1000 + 0.5
    for audio in turns:
        first_event = len(feeder.snapshot())
        feeder.feed(audio)

        def turn_over(silence_fed: float, first_event: int = first_event) -> bool:
            if session.user_active or session.is_speaking:
                return False
            new = feeder.snapshot()[first_event:]
            if any(isinstance(e, ev.SpeechStopped) for e in new):
                return True
            heard = any(isinstance(e, ev.SpeechStarted) for e in new)
            return not heard and silence_fed > give_up_after

        finished = feeder.feed_silence_until(turn_over, max_reply_seconds)
        yield _collect(session, feeder.snapshot()[first_event:], finished)


def _collect(session: Session, events: list[ev.Event], finished: bool) -> TurnResult:
    """What one input produced: everything the user said in it, and the reply to its last turn."""
    result = TurnResult()
    turns = [e.turn for e in events if isinstance(e, ev.SpeechStarted)]
    if not turns:
        result.speech_detected = False
        return result
    result.user_turns = len(turns)
    heard = [e.text for e in events if isinstance(e, ev.TranscriptFinal) and e.text]
    result.transcript = " ".join(heard)
    audio: list[np.ndarray] = []
    for event in events:
        if isinstance(event, ev.ErrorEvent):
            result.errors.append(f"{event.code}: {event.message}")
        if event.turn != turns[-1]:
            continue
        match event:
            case ev.ReplyAudio(audio=samples, sample_rate=rate):
                audio.append(samples)
                result.sample_rate = rate
            case ev.ReplyDone(text=text):
                result.reply_text = text
            case ev.ReplyCancelled(reason=reason, played_text=heard, played_seconds=seconds):
                result.cancelled = reason
                result.reply_text = heard
                keep = int(seconds * result.sample_rate)
                audio = [np.concatenate(audio)[:keep]] if audio else []
    if not finished:
        result.errors.append("timeout: the reply did not finish in time")
    result.reply_audio = np.concatenate(audio) if audio else np.zeros(0, np.float32)
    timings = session.timings.get(turns[-1])
    result.timings = timings.as_ms() if timings else {}
    return result
