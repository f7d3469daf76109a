"""The `model` turn policy with the real models: Silero VAD, Whisper tiny.en, the packaged state
head on SmolLM2, and Piper speaking the user's words. Replies come from scripted engines, so
that what is tested is the turn-taking. The session's clock is the audio fed: while we wait for
a decision no audio is fed, so "before 500 ms of silence" is exact, not a timing."""

from __future__ import annotations

import numpy as np
import pytest

from fakes import ScriptedLLM, SilentTTS, silence
from omnitalk.agent import events as ev
from omnitalk.agent.responders.cascade import CascadeResponder
from omnitalk.agent.session import Session, SessionConfig
from omnitalk.agent.turn_policy import ModelPolicy, ModelPolicyConfig
from omnitalk.talk import Feeder
from test_session import REPLY, wait_for
from test_turn_policy import of, wait_for_nth

pytestmark = pytest.mark.real_models

PAUSE = silence(0.1)  # enough for the VAD to hear a pause, far below silence_ms (500)


@pytest.fixture(scope="module")
def engines():
    from omnitalk.engines.asr_faster_whisper import FasterWhisperASR
    from omnitalk.engines.tts_piper import PiperTTS
    from omnitalk.engines.vad_silero import SileroVAD

    return SileroVAD(), FasterWhisperASR(), ModelPolicy.load(ModelPolicyConfig()), PiperTTS()


@pytest.fixture
def conversation(engines):
    vad, asr, policy, voice = engines
    responder = CascadeResponder(ScriptedLLM(REPLY), SilentTTS(seconds_per_word=0.5))
    feeder = Feeder(realtime=False)
    session = Session(vad.fork(), asr, responder, SessionConfig(), feeder.on_event,
                      policy=policy)
    feeder.session = session

    def say(text: str) -> None:
        from omnitalk.audio.resample import resample
        from omnitalk.engines.tts_piper import VoiceStyle

        # Without Piper's sampling noise: the same words sound the same in every run.
        spoken = list(voice.synthesize(text, VoiceStyle(noise_scale=0.0, noise_w_scale=0.0)))
        session.feed(silence(0.2))
        session.feed(resample(np.concatenate(spoken), voice.sample_rate, session.sample_rate))
        session.feed(PAUSE)

    yield session, feeder, say
    session.close()


def answered_first_turn(session, feeder, say) -> None:
    say("What is the tallest mountain in Africa?")
    wait_for(feeder, ev.ReplyDone, timeout=30)
    session.feed(silence(0.3))
    assert session.is_speaking  # 9.5 s of reply, of which 0.3 s has been heard


def test_a_finished_question_is_answered_before_silence_ms_would_end_the_turn(conversation):
    session, feeder, say = conversation
    say("What is the tallest mountain in Africa?")
    [decision] = wait_for(feeder, ev.TurnDecision, timeout=30)
    assert decision.state == "respond"
    [stopped] = wait_for(feeder, ev.SpeechStopped, timeout=30)
    assert stopped.audio_time - stopped.speech_end < SessionConfig().turn.silence_ms / 1000
    wait_for(feeder, ev.ReplyDone, timeout=30)


def test_a_mid_sentence_pause_does_not_end_the_turn(conversation):
    session, feeder, say = conversation
    say("What is the tallest mountain in, um,")
    [decision] = wait_for(feeder, ev.TurnDecision, timeout=30)
    assert decision.state == "listen"
    session.feed(silence(0.8))  # with the 0.1 s above: past vad's 500 ms, inside the pause
    assert of(feeder, ev.SpeechStopped) == [] and of(feeder, ev.ReplyStarted) == []
    say("Africa?")
    decisions = wait_for_nth(feeder, ev.TurnDecision, 2)
    assert decisions[1].state == "respond"
    wait_for(feeder, ev.ReplyDone, timeout=30)
    assert len(of(feeder, ev.SpeechStarted)) == 1  # one turn


def test_a_backchannel_over_a_reply_leaves_it_playing(conversation):
    # "Yeah", not "mm-hm": Piper cannot say "mm-hm" (Whisper hears "and the make-chan.").
    session, feeder, say = conversation
    answered_first_turn(session, feeder, say)
    say("Yeah.")
    assert wait_for_nth(feeder, ev.TurnDecision, 2)[1].state == "ignore"
    session.feed(silence(0.5))
    assert session.is_speaking and of(feeder, ev.ReplyCancelled) == []
    assert len(of(feeder, ev.SpeechStarted)) == 1


def test_stop_over_a_reply_cancels_it_and_no_new_reply_starts(conversation):
    session, feeder, say = conversation
    answered_first_turn(session, feeder, say)
    say("Stop.")
    [cancelled] = wait_for(feeder, ev.ReplyCancelled, timeout=30)
    assert cancelled.reason == "stop"
    session.feed(silence(2.0))
    assert len(of(feeder, ev.ReplyStarted)) == 1 and not session.is_speaking


def test_a_real_interruption_cancels_the_reply_and_is_answered(conversation):
    session, feeder, say = conversation
    answered_first_turn(session, feeder, say)
    say("Wait, actually, how far away is the moon?")
    [cancelled] = wait_for(feeder, ev.ReplyCancelled, timeout=30)
    assert cancelled.reason == "interrupted"
    started = wait_for_nth(feeder, ev.ReplyStarted, 2)
    assert started[1].turn == 2
    said = of(feeder, ev.TranscriptFinal)[-1].text.lower()
    assert "moon" in said and np.isfinite(cancelled.played_seconds)
