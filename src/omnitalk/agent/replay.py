"""Turn policies replayed over a recorded microphone track, on the track's own clock.

The session decides at VAD events; so does this replay, with the same `TurnDetector`:

- `vad`: the turn ends after `silence_ms` of silence; over a playing reply, 32 ms of speech
  cancels it (barge-in) and the speech is then answered like any turn.
- `model`: at every pause the turn so far is transcribed and the state head decides
  (`omnitalk.duplex.state_head`). The decision lands when both are done: the pause time plus
  the measured transcription and head time. A pause the user ends by speaking again before
  that voids it, as the session cancels its speculative reply. A hard silence limit is the
  backstop, except over a reply: there respond cancels it and answers, stop cancels it and
  answers nothing, ignore leaves it playing, and so does listen when the user says no more.
- `smart-turn`: Pipecat's way with Smart Turn: after `stop_s` of silence the turn's audio goes
  to the end-of-turn classifier; complete -> the turn ends, else it ends at `max_silence_s`.
  Over a reply, speech interrupts on VAD onset (it has no notion of a backchannel).

Transcripts and their cost are measured once per episode (`listen`), so that every policy is
judged on the same VAD probabilities and the same words.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from omnitalk.agent.turn_policy import ModelPolicyConfig, model_turn_config
from omnitalk.agent.turns import Signal, TurnConfig, TurnDetector
from omnitalk.duplex.states import State

FRAME = 512
SAMPLE_RATE = 16000
FRAME_S = FRAME / SAMPLE_RATE
PAD_S = 0.2  # audio kept from before the detected speech start, as the session's speech_pad_ms


def speech_probabilities(vad, audio: np.ndarray) -> np.ndarray:
    vad.reset()
    frames = audio[:audio.size - audio.size % FRAME].reshape(-1, FRAME)
    return np.array([vad.speech_probability(f) for f in frames], np.float32)


@dataclass(frozen=True)
class Pause:
    """A moment the user paused inside a turn, with what had been said up to it."""

    time: float  # end of the first silent frame
    speech_start: float
    text: str
    asr_s: float  # what transcribing the turn so far took


@dataclass
class Heard:
    """One episode as the VAD and the ASR heard it: every policy's input."""

    probabilities: np.ndarray
    pauses: list[Pause]


MODEL_POLICY = ModelPolicyConfig()
MODEL_TURN = model_turn_config(TurnConfig(), MODEL_POLICY)  # as the session runs it


def listen(audio: np.ndarray, vad, asr, turn: TurnConfig = MODEL_TURN) -> Heard:
    probabilities = speech_probabilities(vad, audio)
    detector = TurnDetector(turn, FRAME_S)
    pauses = []
    for index, p in enumerate(probabilities):
        now = (index + 1) * FRAME_S
        if Signal.PAUSED in detector.update(float(p), now):
            start = max(0.0, detector.speech_start - PAD_S)
            began = time.perf_counter()
            text = asr.transcribe(audio[int(start * SAMPLE_RATE):int(now * SAMPLE_RATE)])
            pauses.append(Pause(now, detector.speech_start, text, time.perf_counter() - began))
    return Heard(probabilities, pauses)


@dataclass
class Outcome:
    """What a policy did with one episode."""

    ended_at: float | None = None  # the user's turn was taken as over (an answer starts)
    cancelled_at: float | None = None  # a playing reply was stopped
    answered: bool = False  # a new reply started
    decisions: list[tuple[float, str]] = field(default_factory=list)  # (time, what)


def _resumes_before(probabilities: np.ndarray, after: float, until: float,
                    threshold: float) -> bool:
    first, last = int(after / FRAME_S), int(np.ceil(until / FRAME_S))
    return bool((probabilities[first:last] >= threshold).any())


def _said_something(heard: Heard, until: float) -> bool:
    """Whether the last transcript before `until` has words: the session answers only then."""
    said = [q.text for q in heard.pauses if q.time <= until]
    return bool(said and said[-1].strip())


def replay_vad(heard: Heard, speaking: bool, silence_ms: int) -> Outcome:
    detector = TurnDetector(TurnConfig(silence_ms=silence_ms), FRAME_S)
    outcome = Outcome()
    for index, p in enumerate(heard.probabilities):
        now = (index + 1) * FRAME_S
        for signal in detector.update(float(p), now):
            if signal is Signal.BARGE_IN and speaking and outcome.cancelled_at is None:
                outcome.cancelled_at = now
                outcome.decisions.append((now, "barge-in"))
            elif signal is Signal.ENDED and outcome.ended_at is None:
                outcome.answered = _said_something(heard, now)
                outcome.ended_at = now if outcome.answered else None
                outcome.decisions.append((now, "end of turn" if outcome.answered else "empty"))
    return outcome


def replay_model(heard: Heard, speaking: bool, decide,
                 hard_silence_ms: int = MODEL_POLICY.max_silence_ms,
                 threshold: float = MODEL_TURN.threshold) -> Outcome:
    """`decide(text, speaking) -> (State, seconds it took)`."""
    outcome = Outcome()
    playing = speaking
    for pause in heard.pauses:
        if outcome.ended_at is not None:
            break
        state, head_s = decide(pause.text, playing)
        at = pause.time + pause.asr_s + head_s
        if _resumes_before(heard.probabilities, pause.time, at, threshold):
            continue  # the user went on before the decision was ready
        outcome.decisions.append((round(at, 3), state.name.lower()))
        if state is State.RESPOND:
            if playing:
                outcome.cancelled_at, playing = at, False
            outcome.ended_at, outcome.answered = at, True
        elif state is State.STOP and playing:
            outcome.cancelled_at, playing = at, False
    unfinished = outcome.decisions and outcome.decisions[-1][1] == "listen"
    # The backstop: silence has lasted the hard limit since the last speech. Over a reply,
    # unfinished speech the user does not go on with leaves the reply playing.
    if outcome.ended_at is None and unfinished and not playing:
        last = heard.pauses[-1]
        at = last.time + hard_silence_ms / 1000
        if not _resumes_before(heard.probabilities, last.time, at, threshold):
            outcome.ended_at, outcome.answered = at, bool(last.text.strip())
            outcome.decisions.append((round(at, 3), "silence limit"))
    return outcome


def replay_smart_turn(heard: Heard, audio: np.ndarray, speaking: bool, complete,
                      stop_s: float = 0.2, max_silence_s: float = 3.0,
                      threshold: float = 0.5) -> Outcome:
    """`complete(turn audio) -> (probability the turn is complete, seconds it took)`."""
    detector = TurnDetector(TurnConfig(silence_ms=round(max_silence_s * 1000)), FRAME_S)
    outcome = Outcome()
    silent_since: float | None = None
    asked = False
    for index, p in enumerate(heard.probabilities):
        now = (index + 1) * FRAME_S
        signals = detector.update(float(p), now)
        if Signal.BARGE_IN in signals and speaking and outcome.cancelled_at is None:
            outcome.cancelled_at = now
            outcome.decisions.append((now, "barge-in"))
        if Signal.PAUSED in signals:
            silent_since, asked = now - FRAME_S, False
        if Signal.RESUMED in signals or Signal.ONSET in signals:
            silent_since = None
        ended = Signal.ENDED in signals
        if silent_since is not None and not asked and now - silent_since >= stop_s:
            asked = True
            start = max(0.0, detector.speech_start - PAD_S)
            probability, took = complete(audio[int(start * SAMPLE_RATE):int(now * SAMPLE_RATE)])
            at = now + took
            if probability >= threshold and not _resumes_before(
                    heard.probabilities, now, at, MODEL_TURN.threshold):
                outcome.decisions.append((round(at, 3), f"complete {probability:.2f}"))
                detector.end()
                ended, now = True, at
        if ended and outcome.ended_at is None:
            outcome.answered = _said_something(heard, now)
            outcome.ended_at = now if outcome.answered else None
            break
    return outcome
