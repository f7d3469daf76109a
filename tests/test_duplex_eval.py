"""The policy replays and the turn-taking metrics of `omnitalk eval duplex`, on hand-made
probabilities and outcomes where the right answer is known; and the command itself on a real
recording."""

from __future__ import annotations

import json

import numpy as np
import pytest

from omnitalk.agent.replay import FRAME_S, Heard, Outcome, Pause, replay_model, replay_vad
from omnitalk.cli import main
from omnitalk.duplex.states import State
from omnitalk.eval.duplex import Case, metrics


def frames(*spans: tuple[float, float]) -> np.ndarray:
    """Speech probabilities: (seconds, probability) spans in a row."""
    return np.concatenate([np.full(round(s / FRAME_S), p, np.float32) for s, p in spans])


def test_vad_ends_the_turn_after_its_silence_and_barges_in_at_once():
    heard = Heard(frames((0.32, 0.0), (0.96, 1.0), (1.6, 0.0)),
                  [Pause(1.312, 0.32, "What is the time?", 0.1)])
    idle = replay_vad(heard, speaking=False, silence_ms=500)
    assert idle.ended_at == pytest.approx(1.28 + 0.512, abs=FRAME_S) and idle.answered
    assert idle.cancelled_at is None
    playing = replay_vad(heard, speaking=True, silence_ms=500)
    assert playing.cancelled_at == pytest.approx(0.32 + 0.032, abs=FRAME_S)


def test_the_model_decides_when_its_transcript_and_head_are_done():
    heard = Heard(frames((0.32, 0.0), (0.96, 1.0), (1.6, 0.0)),
                  [Pause(1.312, 0.32, "What is the time?", 0.12)])
    outcome = replay_model(heard, False, lambda text, speaking: (State.RESPOND, 0.08))
    assert outcome.ended_at == pytest.approx(1.312 + 0.12 + 0.08) and outcome.answered
    # Over a reply: a stop cancels and answers nothing; ignore leaves it alone.
    stop = replay_model(heard, True, lambda text, speaking: (State.STOP, 0.08))
    assert stop.cancelled_at is not None and not stop.answered and stop.ended_at is None
    ignore = replay_model(heard, True, lambda text, speaking: (State.IGNORE, 0.08))
    assert ignore.cancelled_at is None and not ignore.answered
    # Unfinished speech over a reply that goes no further: the reply plays on.
    listen = replay_model(heard, True, lambda text, speaking: (State.LISTEN, 0.08))
    assert listen.cancelled_at is None and listen.ended_at is None and not listen.answered


def test_a_decision_the_user_speaks_over_is_void_and_listen_waits_for_the_backstop():
    # A 0.1 s pause: the user speaks again before the 0.2 s decision is ready.
    heard = Heard(frames((0.32, 0.0), (0.64, 1.0), (0.096, 0.0), (0.64, 1.0), (2.0, 0.0)),
                  [Pause(0.992, 0.32, "So what", 0.15), Pause(1.728, 0.32, "So what is", 0.15)])
    outcome = replay_model(heard, False, lambda text, speaking: (State.LISTEN, 0.05),
                           hard_silence_ms=1500)
    assert [what for _, what in outcome.decisions] == ["listen", "silence limit"]
    assert outcome.ended_at == pytest.approx(1.728 + 1.5)


def case(kind: str, speaking: bool, end: float, pause=None) -> Case:
    return Case(kind, kind, speaking, 0.6, end, pause, np.zeros(1, np.float32),
                Heard(np.zeros(1, np.float32), []))


def test_metrics_count_what_each_definition_says():
    cases = [case("finished", False, 2.0), case("finished", False, 2.0),
             case("paused", False, 3.0, (1.5, 2.3)), case("backchannel", True, 1.0),
             case("interruption", True, 2.0), case("stop", True, 1.0),
             case("stop", True, 1.0)]
    outcomes = [Outcome(ended_at=2.1, answered=True),  # 100 ms: within one 160 ms chunk
                Outcome(ended_at=2.5, answered=True),  # 500 ms
                Outcome(ended_at=1.8, answered=True),  # inside the pause: premature
                Outcome(cancelled_at=1.1),  # a backchannel stopped the reply
                Outcome(ended_at=2.3, cancelled_at=2.3, answered=True),
                Outcome(cancelled_at=1.3),  # stopped, nothing answered: a stop obeyed
                Outcome(cancelled_at=0.7, ended_at=1.5, answered=True)]  # answered "stop"
    figures = metrics(cases, outcomes)
    assert figures["turns"] == 3
    assert figures["acc@1"] == pytest.approx(1 / 3) and figures["acc@5"] == pytest.approx(2 / 3)
    assert figures["premature_end_rate"] == pytest.approx(1 / 3)
    assert figures["premature_in_pause_rate"] == 1.0
    assert figures["endpoint_delay_median_ms"] == pytest.approx(300)
    assert figures["false_barge_in_rate"] == 1.0
    assert figures["interruption_recall"] == 1.0
    assert figures["stop_recall"] == 0.5
    assert figures["stop_latency_median_ms"] == pytest.approx(300)


@pytest.mark.real_models
def test_eval_duplex_runs_on_a_real_recording_and_ends_with_its_json(tmp_path, capsys):
    import shutil

    from test_smart_turn import JFK

    shutil.copy(JFK, tmp_path / "jfk.flac")
    assert main(["eval", "duplex", "--sets", "real", "--fixtures", str(tmp_path),
                 "--no-smart-turn", "--cases", str(tmp_path / "cases.jsonl"), "--json"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    policies = record["sets"]["real recordings"]
    assert set(policies) == {"vad 300 ms", "vad 500 ms", "vad 800 ms", "model", "_cases"}
    assert policies["_cases"] == 1 and policies["vad 500 ms"]["turns"] == 1
    assert record["machine"]["cores"] >= 1 and record["head_ms_median"] > 0
    [row] = [json.loads(line) for line in (tmp_path / "cases.jsonl").read_text().splitlines()]
    assert "country" in row["pauses"][-1][1].lower() and row["decisions"]["model"]
