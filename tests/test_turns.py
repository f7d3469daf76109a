"""TurnDetector: turn-taking signals from per-frame speech probabilities (32 ms frames).

With the defaults: STARTED on the 8th speech frame (256 ms >= 250 ms), ENDED on the 16th
non-speech frame (512 ms >= 500 ms), BARGE_IN on the 1st speech frame (32 ms >= 32 ms).
"""

from __future__ import annotations

import pytest

from omnitalk.agent.turns import Signal, TurnConfig, TurnDetector

F = 0.032
ON, OFF = 0.9, 0.05
S = Signal


def drive(probabilities, detector=None, **config):
    """Feed one probability per frame; return [(frame index, signals)] for frames with signals."""
    detector = detector or TurnDetector(TurnConfig(**config), frame_seconds=F)
    out = []
    for index, probability in enumerate(probabilities):
        signals = detector.update(probability, (index + 1) * F)
        if signals:
            out.append((index, signals))
    return out


def test_a_whole_turn():
    """Silence, 10 speech frames, silence: ONSET+BARGE_IN, STARTED, PAUSED, ENDED."""
    probs = [OFF] * 3 + [ON] * 10 + [OFF] * 20
    assert drive(probs) == [
        (3, [S.ONSET, S.BARGE_IN]),
        (10, [S.STARTED]),  # 8th speech frame
        (13, [S.PAUSED]),  # 1st silent frame
        (28, [S.ENDED]),  # 16th silent frame
    ]


def test_speech_start_and_end_times():
    detector = TurnDetector(TurnConfig(), F)
    drive([OFF] * 3 + [ON] * 10 + [OFF] * 20, detector)
    assert detector.speech_start == pytest.approx(3 * F)  # start of the first speech frame
    assert detector.speech_end == pytest.approx(13 * F)  # end of the last speech frame
    assert not detector.active


@pytest.mark.parametrize(
    "speech_frames, expected",
    [
        (7, [(0, [S.ONSET, S.BARGE_IN]), (7, [S.DISCARDED])]),  # 224 ms < 250 ms
        (8, [(0, [S.ONSET, S.BARGE_IN]), (7, [S.STARTED]), (8, [S.PAUSED])]),  # 256 ms
    ],
)
def test_started_needs_min_speech_ms(speech_frames, expected):
    assert drive([ON] * speech_frames + [OFF] * 5) == expected


def test_short_blip_is_discarded_and_never_ends_a_turn():
    detector = TurnDetector(TurnConfig(), F)
    assert drive([OFF, ON, ON, ON] + [OFF] * 30, detector) == [
        (1, [S.ONSET, S.BARGE_IN]),
        (4, [S.DISCARDED]),
    ]
    assert not detector.active
    assert detector.speech_start == pytest.approx(F)
    assert detector.speech_end == pytest.approx(4 * F)


@pytest.mark.parametrize(
    "barge_in_ms, frame",
    [(32, 0), (33, 1), (64, 1), (100, 3), (128, 3), (129, 4)],
)
def test_barge_in_after_barge_in_ms(barge_in_ms, frame):
    signals = dict(drive([ON] * 12, barge_in_ms=barge_in_ms))
    barge_frames = [index for index, sigs in signals.items() if S.BARGE_IN in sigs]
    assert barge_frames == [frame]
    assert S.ONSET in signals[0]


def test_barge_in_ms_zero_disables_barge_in():
    assert drive([ON] * 10 + [OFF] * 20, barge_in_ms=0) == [
        (0, [S.ONSET]),
        (7, [S.STARTED]),
        (10, [S.PAUSED]),
        (25, [S.ENDED]),
    ]


def test_pause_and_resume_inside_a_turn():
    """A pause shorter than silence_ms resumes the same turn; the silence count restarts."""
    probs = [ON] * 10 + [OFF] * 5 + [ON] * 3 + [OFF] * 20
    assert drive(probs) == [
        (0, [S.ONSET, S.BARGE_IN]),
        (7, [S.STARTED]),
        (10, [S.PAUSED]),
        (15, [S.RESUMED]),  # no new ONSET or BARGE_IN
        (18, [S.PAUSED]),
        (33, [S.ENDED]),  # 16 silent frames after the resumed speech
    ]


def test_pause_of_one_frame_less_than_silence_ms_does_not_end():
    probs = [ON] * 8 + [OFF] * 15 + [ON]
    assert drive(probs) == [
        (0, [S.ONSET, S.BARGE_IN]),
        (7, [S.STARTED]),
        (8, [S.PAUSED]),
        (23, [S.RESUMED]),
    ]


@pytest.mark.parametrize("silence_ms, end_frame", [(400, 12), (416, 12), (417, 13), (96, 2)])
def test_ended_after_silence_ms(silence_ms, end_frame):
    """ENDED on the first silent frame where accumulated silence >= silence_ms."""
    out = drive([ON] * 8 + [OFF] * 20, silence_ms=silence_ms)
    assert out[-1] == (8 + end_frame, [S.ENDED])
    assert [sigs for _, sigs in out].count([S.ENDED]) == 1


def test_active_while_speaking_and_during_a_pause():
    detector = TurnDetector(TurnConfig(), F)
    assert not detector.active
    drive([ON], detector)
    assert detector.active and detector.in_speech and not detector.confirmed
    drive([ON] * 8 + [OFF] * 3, detector)
    assert detector.active and detector.confirmed and not detector.in_speech


def test_hysteresis_staying_in_speech_needs_less_than_entering():
    """Entering needs >= threshold (0.5); leaving needs < threshold - exit_margin (0.35)."""
    # 0.4 never starts speech from silence.
    assert drive([0.4] * 20) == []
    # ... but keeps speech going once it has started; 0.34 ends it.
    probs = [ON] * 8 + [0.4] * 10 + [0.34] * 16
    assert drive(probs) == [
        (0, [S.ONSET, S.BARGE_IN]),
        (7, [S.STARTED]),
        (18, [S.PAUSED]),
        (33, [S.ENDED]),
    ]


def test_hysteresis_during_a_pause_uses_the_entry_threshold():
    """While paused, 0.4 is below the entry threshold: it is silence and the turn ends."""
    probs = [ON] * 8 + [OFF] + [0.4] * 15
    assert drive(probs) == [
        (0, [S.ONSET, S.BARGE_IN]),
        (7, [S.STARTED]),
        (8, [S.PAUSED]),
        (23, [S.ENDED]),
    ]


def test_exit_margin_zero_means_a_single_threshold():
    assert drive([ON] * 8 + [0.45] * 16, exit_margin=0.0) == [
        (0, [S.ONSET, S.BARGE_IN]),
        (7, [S.STARTED]),
        (8, [S.PAUSED]),
        (23, [S.ENDED]),
    ]


def test_a_long_turn_is_never_cut_by_the_detector():
    """Two minutes of speech stay one turn (the session transcribes it in pieces)."""
    frames = round(120 / F)
    assert drive([ON] * frames + [OFF] * 16) == [
        (0, [S.ONSET, S.BARGE_IN]),
        (7, [S.STARTED]),
        (frames, [S.PAUSED]),
        (frames + 15, [S.ENDED]),
    ]


def test_reset_forgets_the_turn():
    detector = TurnDetector(TurnConfig(), F)
    drive([ON] * 10, detector)
    detector.reset()
    assert not detector.active
    assert detector.speech_start == detector.speech_end == 0.0
    # The next speech frame is a fresh onset, not a resume.
    assert detector.update(ON, 1.0) == [S.ONSET, S.BARGE_IN]
    assert detector.speech_start == pytest.approx(1.0 - F)


def test_signal_values():
    assert {s.value for s in Signal} == {
        "onset", "barge_in", "started", "paused", "resumed", "ended", "discarded"
    }
