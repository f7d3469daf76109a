"""The session under the `model` turn policy, with scripted engines and a scripted head: turns
end when the head says so, pauses it reads as unfinished do not end them, and over a reply
backchannels are ignored, stop commands stop it and interruptions are answered."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from fakes import EnergyVAD, ScriptedASR, ScriptedLLM, SilentTTS, silence, tone
from omnitalk.agent import events as ev
from omnitalk.agent.responders.cascade import CascadeResponder
from omnitalk.agent.session import Session, SessionConfig
from omnitalk.agent.turn_policy import ModelPolicy, ModelPolicyConfig, VadPolicy, load_policy
from omnitalk.duplex.state_head import Decision, State
from omnitalk.talk import Feeder
from test_session import REPLY, wait_for


class ScriptedHead:
    """Decides from the transcript, as the trained head would on these words."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, bool]] = []
        self.thresholds: list[float | None] = []

    def decide(self, text: str, assistant_speaking: bool,
               respond_threshold: float | None = None) -> Decision:
        self.asked.append((text, assistant_speaking))
        self.thresholds.append(respond_threshold)
        if text in ("mm-hm", "yeah"):
            state = State.IGNORE if assistant_speaking else State.RESPOND
        elif text == "stop":
            state = State.STOP if assistant_speaking else State.IGNORE
        elif text.endswith("?"):
            state = State.RESPOND
        else:
            state = State.LISTEN
        return Decision(state, {state.name.lower(): 1.0})


def make_session(asr_text="What is the capital of France?", **policy):
    head = ScriptedHead()
    asr = ScriptedASR(asr_text)
    responder = CascadeResponder(ScriptedLLM(REPLY), SilentTTS(seconds_per_word=0.25))
    feeder = Feeder(realtime=False)
    session = Session(EnergyVAD(), asr, responder, SessionConfig(), feeder.on_event,
                      policy=ModelPolicy(head, ModelPolicyConfig(**policy)))
    feeder.session = session
    return session, feeder, asr, head


def of(feeder, kind):
    return [e for e in feeder.snapshot() if isinstance(e, kind)]


def wait_for_nth(feeder, kind, n):
    """The first n events of `kind`, once there are n."""
    found = wait_for(feeder, kind)
    for _ in range(200):
        if len(found) >= n:
            return found[:n]
        found = wait_for(feeder, kind)
        time.sleep(0.01)
    raise AssertionError(f"fewer than {n} {kind.__name__} events")


def play_a_reply(session, feeder):
    """A first turn answered and its reply playing (generated, not yet heard)."""
    session.feed(tone(1.0))
    session.feed(silence(0.064))
    wait_for(feeder, ev.ReplyDone)
    session.feed(silence(0.5))
    assert session.is_speaking


def test_a_finished_question_is_answered_at_the_first_pause():
    session, feeder, _, head = make_session()
    session.feed(tone(1.0))
    session.feed(silence(0.064))  # two frames: the pause; the audio clock stops here
    [decision] = wait_for(feeder, ev.TurnDecision)
    assert decision.state == "respond" and not decision.assistant_speaking
    [stopped] = wait_for(feeder, ev.SpeechStopped)
    # The turn ended on the head's word, long before the 500 ms (vad) or 1,500 ms backstop.
    assert stopped.audio_time <= 1.1
    wait_for(feeder, ev.ReplyDone)
    assert head.asked == [("What is the capital of France?", False)]
    session.close()


def test_an_unfinished_sentence_waits_through_the_pause_until_the_backstop():
    session, feeder, _, _ = make_session(asr_text="What is the capital of", max_silence_ms=1500)
    session.feed(tone(1.0))
    session.feed(silence(0.064))
    [decision] = wait_for(feeder, ev.TurnDecision)
    assert decision.state == "listen"
    session.feed(silence(1.0))  # twice vad's silence_ms: still the user's turn
    assert of(feeder, ev.SpeechStopped) == [] and of(feeder, ev.ReplyStarted) == []
    session.feed(silence(0.6))  # past the hard limit
    wait_for(feeder, ev.SpeechStopped)
    wait_for(feeder, ev.ReplyDone)
    session.close()


def test_speech_after_a_listen_decision_continues_the_same_turn():
    session, feeder, asr, _ = make_session(asr_text="What is the capital of")
    session.feed(tone(1.0))
    session.feed(silence(0.064))
    wait_for(feeder, ev.TurnDecision)
    session.feed(silence(0.6))
    asr.text = "What is the capital of France?"
    session.feed(tone(0.5))
    session.feed(silence(0.064))
    decisions = wait_for_nth(feeder, ev.TurnDecision, 2)
    assert [d.state for d in decisions] == ["listen", "respond"]
    wait_for(feeder, ev.ReplyDone)
    assert len(of(feeder, ev.SpeechStarted)) == 1  # one turn, paused once
    session.close()


def test_a_backchannel_over_a_reply_leaves_it_playing_and_is_not_announced():
    session, feeder, asr, head = make_session()
    play_a_reply(session, feeder)
    asr.text = "mm-hm"
    session.feed(tone(0.3))
    session.feed(silence(0.064))
    assert wait_for_nth(feeder, ev.TurnDecision, 2)[1].state == "ignore"
    assert head.asked[-1] == ("mm-hm", True)
    assert session.is_speaking and of(feeder, ev.ReplyCancelled) == []
    # Clients stop playback on speech_started: a backchannel must not say it.
    assert len(of(feeder, ev.SpeechStarted)) == 1
    feeder.feed_silence_until(lambda _: not session.is_speaking, 10.0)
    assert of(feeder, ev.ReplyCancelled) == []
    assert [m.content for m in session.history] == ["What is the capital of France?", REPLY]
    session.close()


def test_unfinished_speech_over_a_reply_that_goes_no_further_leaves_it_playing():
    session, feeder, asr, _ = make_session(max_silence_ms=1000)
    play_a_reply(session, feeder)
    asr.text = "and make a chain"  # an "mm-hm" the ASR misheard: the head reads it unfinished
    session.feed(tone(0.3))
    session.feed(silence(0.064))
    assert wait_for_nth(feeder, ev.TurnDecision, 2)[1].state == "listen"
    session.feed(silence(1.1))  # past the silence limit: no more came
    assert session.is_speaking and of(feeder, ev.ReplyCancelled) == []
    assert len(of(feeder, ev.SpeechStarted)) == 1 and len(of(feeder, ev.ReplyStarted)) == 1
    feeder.feed_silence_until(lambda _: not session.is_speaking, 10.0)
    assert of(feeder, ev.ReplyCancelled) == [] and len(of(feeder, ev.ReplyStarted)) == 1
    assert [m.content for m in session.history] == ["What is the capital of France?", REPLY]
    session.close()


def test_unfinished_speech_over_a_reply_that_goes_on_to_a_question_interrupts_it():
    session, feeder, asr, _ = make_session(max_silence_ms=1000)
    play_a_reply(session, feeder)
    asr.text = "Wait, what about"
    session.feed(tone(0.4))
    session.feed(silence(0.064))
    assert wait_for_nth(feeder, ev.TurnDecision, 2)[1].state == "listen"
    session.feed(silence(0.3))
    asr.text = "Wait, what about Spain?"
    session.feed(tone(0.4))
    session.feed(silence(0.064))
    [cancelled] = wait_for(feeder, ev.ReplyCancelled)
    assert cancelled.reason == "interrupted"
    wait_for_nth(feeder, ev.ReplyDone, 2)
    assert [e.text for e in of(feeder, ev.TranscriptFinal)][-1] == "Wait, what about Spain?"
    session.close()


def test_stop_over_a_reply_cancels_it_and_starts_no_new_one():
    session, feeder, asr, _ = make_session()
    play_a_reply(session, feeder)
    asr.text = "stop"
    session.feed(tone(0.4))
    session.feed(silence(0.064))
    [cancelled] = wait_for(feeder, ev.ReplyCancelled)
    assert cancelled.reason == "stop"
    feeder.feed(silence(2.0))
    assert len(of(feeder, ev.ReplyStarted)) == 1 and not session.is_speaking
    assert session.history[-1].role == "assistant"  # what was heard of the stopped reply
    session.close()


def test_a_real_interruption_cancels_the_reply_and_is_answered():
    session, feeder, asr, _ = make_session()
    play_a_reply(session, feeder)
    asr.text = "Wait, actually, what about Spain?"
    session.feed(tone(1.0))
    session.feed(silence(0.064))
    [cancelled] = wait_for(feeder, ev.ReplyCancelled)
    assert cancelled.reason == "interrupted"
    started = wait_for_nth(feeder, ev.ReplyStarted, 2)
    assert started[1].turn == 2
    assert [e.turn for e in of(feeder, ev.SpeechStarted)] == [1, 2]
    assert [e.text for e in of(feeder, ev.TranscriptFinal)][-1] == asr.text
    wait_for_nth(feeder, ev.ReplyDone, 2)
    session.close()


def test_a_stop_command_with_nothing_playing_is_not_answered():
    session, feeder, _, _ = make_session(asr_text="stop")
    session.feed(tone(0.4))
    session.feed(silence(0.064))
    [decision] = wait_for(feeder, ev.TurnDecision)
    assert decision.state == "ignore"
    feeder.feed(silence(2.0))
    assert of(feeder, ev.ReplyStarted) == [] and of(feeder, ev.SpeechStopped) == []
    session.close()


def test_the_model_policy_listens_to_shorter_sounds_and_waits_longer():
    config = ModelPolicyConfig(max_silence_ms=1200, min_speech_ms=120)
    turn = ModelPolicy(ScriptedHead(), config).turn_config(SessionConfig().turn)
    assert (turn.silence_ms, turn.min_speech_ms) == (1200, 120)
    assert VadPolicy().turn_config(SessionConfig().turn) == SessionConfig().turn


def test_a_head_that_cannot_load_falls_back_to_vad_with_the_reason(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        policy = load_policy("model", ModelPolicyConfig(head=str(tmp_path / "missing.st")))
    assert isinstance(policy, VadPolicy)
    assert "missing.st" in caplog.text and "vad" in caplog.text
    with pytest.raises(ValueError, match="turn policy must be one of vad, model"):
        load_policy("silence", ModelPolicyConfig())


def test_a_head_that_fails_mid_conversation_leaves_the_turn_to_the_silence_limit(caplog):
    session, feeder, _, head = make_session()

    def broken(text, assistant_speaking, respond_threshold=None):
        raise RuntimeError("the head fell over")

    head.decide = broken
    with caplog.at_level(logging.ERROR):
        session.feed(tone(1.0))
        session.feed(silence(0.064))
        deadline = time.monotonic() + 5
        while session.is_deciding and time.monotonic() < deadline:
            time.sleep(0.01)
    assert not session.is_deciding and "the head fell over" in caplog.text
    assert of(feeder, ev.SpeechStopped) == []
    session.feed(silence(1.6))  # the backstop
    wait_for(feeder, ev.ReplyDone)
    session.close()


def test_a_fast_feeder_waits_for_the_decision_instead_of_running_into_the_backstop():
    from omnitalk.talk import run_turns

    session, feeder, asr, _ = make_session()
    transcribe = asr.transcribe

    def slow(audio, prefix="", context=""):
        time.sleep(0.3)  # unwaited, 1.5 s of silence is fed in far less than this
        return transcribe(audio, prefix, context)

    asr.transcribe = slow
    [result] = run_turns(session, feeder, [np.concatenate([silence(0.3), tone(1.0)])])
    [stopped] = of(feeder, ev.SpeechStopped)
    assert stopped.audio_time - stopped.speech_end < 0.5  # the head's decision, not 1.5 s
    assert result.reply_text == REPLY
    session.close()
