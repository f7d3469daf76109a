"""The conversation runtime with scripted engines: turn events, speculation, barge-in, history."""

from __future__ import annotations

import time

import numpy as np
import pytest

from fakes import EnergyVAD, ScriptedASR, ScriptedLLM, SilentTTS, silence, tone
from omnitalk.agent import events as ev
from omnitalk.agent.responders.cascade import CascadeResponder
from omnitalk.agent.session import Session, SessionConfig
from omnitalk.talk import Feeder, run_turns

REPLY = "One two three. Four five six seven. Eight nine ten."


def make_session(llm=None, asr=None, tts=None, **turn):
    config = SessionConfig()
    for key, value in turn.items():
        setattr(config.turn, key, value)
    responder = CascadeResponder(llm or ScriptedLLM(REPLY), tts or SilentTTS())
    feeder = Feeder(realtime=False)
    session = Session(EnergyVAD(), asr or ScriptedASR(), responder, config, feeder.on_event)
    feeder.session = session
    return session, feeder


def kinds(events):
    return [type(e).__name__ for e in events if not isinstance(e, ev.ReplyAudio)]


def wait_for(feeder, kind, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in feeder.snapshot() if isinstance(e, kind)]
        if found:
            return found
        time.sleep(0.005)
    raise AssertionError(f"no {kind.__name__} within {timeout} s")


def test_one_turn_emits_events_in_order_and_records_history():
    session, feeder = make_session()
    [result] = run_turns(session, feeder, [tone(1.0)])
    names = kinds(feeder.events)
    assert names[0] == "SpeechStarted"
    stop = names.index("SpeechStopped")
    assert names[stop + 1 : stop + 3] == ["TranscriptFinal", "ReplyStarted"]
    assert names[-1] == "ReplyDone"
    assert result.transcript == "hello there"
    assert result.reply_text == REPLY
    assert result.reply_audio.size > 0
    assert [(m.role, m.content) for m in session.history] == [
        ("user", "hello there"),
        ("assistant", REPLY),
    ]
    session.close()


def test_reply_events_are_held_until_the_turn_ends():
    """The reply is prepared during the pause, but nothing of it is emitted before the turn ends."""
    session, feeder = make_session(silence_ms=600)
    session.feed(tone(1.0))
    session.feed(silence(0.3))  # paused, turn not over: speculation runs
    time.sleep(0.3)  # give the speculative reply time to finish
    assert not any(isinstance(e, ev.ReplyStarted | ev.ReplyAudio) for e in feeder.snapshot())
    session.feed(silence(0.4))
    wait_for(feeder, ev.ReplyDone)
    names = kinds(feeder.snapshot())
    assert names.index("SpeechStopped") < names.index("ReplyStarted")
    session.close()


def test_a_pause_shorter_than_the_silence_threshold_keeps_one_turn():
    asr = ScriptedASR()
    session, feeder = make_session(asr=asr, silence_ms=500)
    audio = [tone(0.6), silence(0.3), tone(0.6)]
    run_turns(session, feeder, [np.concatenate(audio)])
    events = feeder.snapshot()
    assert sum(isinstance(e, ev.SpeechStarted) for e in events) == 1
    assert sum(isinstance(e, ev.SpeechStopped) for e in events) == 1
    assert sum(isinstance(e, ev.ReplyDone) for e in events) == 1
    # The final pass heard both parts of the sentence.
    assert max(seconds for seconds, _ in asr.calls) >= 1.5
    session.close()


def test_short_blip_is_not_a_turn():
    asr = ScriptedASR()
    session, feeder = make_session(asr=asr, min_speech_ms=250)
    [result] = run_turns(session, feeder, [tone(0.1)])
    assert not result.speech_detected
    assert not any(isinstance(e, ev.SpeechStarted) for e in feeder.snapshot())
    assert asr.calls == []
    session.close()


def test_empty_transcript_gets_no_reply():
    session, feeder = make_session(asr=ScriptedASR(text=""))
    run_turns(session, feeder, [tone(1.0)])
    assert not any(isinstance(e, ev.ReplyStarted) for e in feeder.snapshot())
    assert not session.is_speaking
    assert session.history == []
    session.close()


def test_barge_in_cancels_within_a_frame_and_keeps_only_the_played_part():
    tts = SilentTTS(seconds_per_word=0.25)
    llm = ScriptedLLM(REPLY, delay_s=0.0)
    session, feeder = make_session(llm=llm, tts=tts, barge_in_ms=32)
    session.feed(tone(1.0))
    session.feed(silence(0.6))  # the turn ends; the reply starts playing
    wait_for(feeder, ev.ReplyDone)
    session.feed(silence(1.0))  # one second of the reply is heard: the first clause, 0.75 s
    speech_at = session.audio_time
    for _ in range(0, 16000, 512):
        session.feed(tone(0.032))
        if any(isinstance(e, ev.ReplyCancelled) for e in feeder.snapshot()):
            break
    [cancelled] = [e for e in feeder.snapshot() if isinstance(e, ev.ReplyCancelled)]
    assert cancelled.reason == "barge-in"
    assert cancelled.audio_time - speech_at <= 0.1
    # One second of silence is 31 frames (the rest waits in the framer); nothing else counts.
    assert cancelled.played_seconds == pytest.approx(31 * 0.032, abs=0.033)
    # 1.0 s of 0.25 s words: the 3-word first clause and one word of the second.
    assert cancelled.played_text == "One two three. Four"
    assert session.history[-1].content == "One two three. Four"
    assert not session.is_speaking
    session.close()


def test_barge_in_while_the_llm_is_still_writing_stops_it():
    llm = ScriptedLLM(" ".join(["word"] * 200) + ".", delay_s=0.02)
    session, feeder = make_session(llm=llm)
    session.feed(tone(1.0))
    session.feed(silence(0.6))
    wait_for(feeder, ev.ReplyAudio)
    session.feed(tone(0.2))
    assert llm.cancelled.wait(2.0)
    assert any(
        isinstance(e, ev.ReplyCancelled) and e.reason == "barge-in" for e in feeder.snapshot()
    )
    session.close()


def test_speech_resuming_during_the_pause_cancels_the_speculative_reply():
    llm = ScriptedLLM(REPLY, delay_s=0.05)
    session, feeder = make_session(llm=llm, silence_ms=500)
    session.feed(tone(1.0))
    session.feed(silence(0.2))  # speculation starts
    session.feed(tone(0.5))  # ...and is abandoned
    session.feed(silence(0.6))
    wait_for(feeder, ev.ReplyDone)
    time.sleep(0.2)
    assert sum(isinstance(e, ev.ReplyStarted) for e in feeder.snapshot()) == 1
    assert sum(isinstance(e, ev.ReplyDone) for e in feeder.snapshot()) == 1
    session.close()


def test_llm_failure_reports_an_error_and_the_session_stays_usable():
    session, feeder = make_session(llm=ScriptedLLM(REPLY, fail_times=1))
    first, second = run_turns(session, feeder, [tone(1.0), tone(1.0)])
    assert any("llm_error" in error and "unreachable" in error for error in first.errors)
    assert first.cancelled == "error"
    assert second.reply_text == REPLY and not second.errors
    session.close()


def test_history_is_sent_to_the_llm_and_bounded():
    llm = ScriptedLLM("Sure.")
    session, feeder = make_session(llm=llm)
    session.config.history_turns = 2
    run_turns(session, feeder, [tone(0.6)] * 4)
    last_prompt = llm.prompts[-1]
    assert last_prompt[0].role == "system"
    assert [m.role for m in last_prompt[1:]] == ["user", "assistant", "user", "assistant", "user"]
    assert len(session.history) == 4
    session.close()


def test_explicit_cancel_reports_what_was_heard():
    session, feeder = make_session()
    session.feed(tone(1.0))
    session.feed(silence(0.6))
    wait_for(feeder, ev.ReplyDone)
    session.feed(silence(0.6))  # 0.58-0.7 s of the 0.75 s first clause: two of its three words
    session.cancel_reply()
    [cancelled] = wait_for(feeder, ev.ReplyCancelled)
    assert cancelled.reason == "cancelled"
    assert cancelled.played_text == "One two"
    session.close()


def test_feed_rejects_multichannel_audio():
    session, _ = make_session()
    with pytest.raises(ValueError, match="mono"):
        session.feed(np.zeros((512, 2), np.float32))
    session.close()


def test_partials_stream_while_speaking_and_seed_the_final_pass():
    asr = ScriptedASR("turn on the kitchen lights")
    session, feeder = make_session(asr=asr)
    for _ in range(30):  # 3 s of speech in 0.1 s pieces, giving the ASR thread time to answer
        session.feed(tone(0.1))
        time.sleep(0.01)
    run_turns(session, feeder, [silence(0.1)])
    partials = [e for e in feeder.snapshot() if isinstance(e, ev.TranscriptPartial)]
    assert len(partials) >= 2
    names = kinds(feeder.snapshot())
    assert names.index("TranscriptPartial") < names.index("SpeechStopped")
    # Two partials agreed on every word: all but the last one are passed on as the prefix.
    seconds, prefix = asr.calls[-1]
    assert prefix == "turn on the kitchen" and seconds >= 3.0
    session.close()


def test_without_barge_in_speech_during_the_reply_is_not_heard():
    """Half duplex (barge_in_ms=0): the assistant's own voice from a speaker cannot interrupt."""
    asr = ScriptedASR()
    session, feeder = make_session(asr=asr, barge_in_ms=0)
    session.feed(tone(1.0))
    session.feed(silence(0.6))
    wait_for(feeder, ev.ReplyDone)
    session.feed(tone(1.5))  # speech over the playing reply
    session.feed(silence(2.0))
    events = feeder.snapshot()
    assert not any(isinstance(e, ev.ReplyCancelled) for e in events)
    assert sum(isinstance(e, ev.SpeechStarted) for e in events) == 1
    assert session.history[-1].content == REPLY
    session.close()


def test_an_input_with_two_utterances_reports_both_and_answers_the_last():
    session, feeder = make_session(silence_ms=300)
    [result] = run_turns(session, feeder, [np.concatenate([tone(0.8), silence(4.0), tone(0.8)])])
    assert result.user_turns == 2
    assert result.transcript == "hello there hello there"
    assert result.reply_text == REPLY and not result.cancelled
    # The first answer was cut off by the second utterance; the user's words were kept anyway.
    assert [m.content for m in session.history if m.role == "user"] == ["hello there"] * 2
    session.close()


def test_a_hung_reply_times_out_instead_of_hanging_the_caller():
    llm = ScriptedLLM("slow " * 40, delay_s=0.2)
    session, feeder = make_session(llm=llm)
    [result] = run_turns(session, feeder, [tone(1.0)], max_reply_seconds=1.0)
    assert any("timeout" in error for error in result.errors)
    session.close()


# ------------------------------------------------------------ turns the client decides itself


def test_a_text_turn_is_answered_with_its_own_instructions_and_kept_in_history():
    llm = ScriptedLLM(REPLY)
    session, feeder = make_session(llm=llm)
    session.instructions = "Speak like a pirate."
    turn = session.respond_to_text("what is two plus two", instructions="Answer in French.")
    [done] = wait_for(feeder, ev.ReplyDone)
    assert done.turn == turn == 1 and done.text == REPLY
    assert llm.prompts[0][0].content == "Answer in French."
    assert llm.prompts[0][-1].content == "what is two plus two"
    # The next text turn counts the finished reply as heard and uses the session's instructions.
    session.respond_to_text("and three plus three")
    wait_for(feeder, ev.ReplyDone, timeout=5.0)
    deadline = time.monotonic() + 5
    while len(llm.prompts) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert llm.prompts[1][0].content == "Speak like a pirate."
    assert [m.content for m in llm.prompts[1][1:]] == [
        "what is two plus two", REPLY, "and three plus three",
    ]
    session.close()


def test_a_text_turn_while_a_reply_is_generated_is_refused():
    from omnitalk.agent.session import ReplyInProgress

    session, feeder = make_session(llm=ScriptedLLM(REPLY, delay_s=0.05))
    session.respond_to_text("first")
    with pytest.raises(ReplyInProgress):
        session.respond_to_text("second")
    session.cancel_reply()
    [cancelled] = wait_for(feeder, ev.ReplyCancelled)
    assert cancelled.reason == "cancelled"
    session.respond_to_text("second")  # after the cancel a new reply is accepted
    session.close()


def test_transcribe_turn_reports_the_transcript_without_answering():
    session, feeder = make_session(asr=ScriptedASR("turn on the lights"))
    turn, text = session.transcribe_turn(tone(1.0))
    assert text.result(timeout=5) == "turn on the lights"
    [final] = wait_for(feeder, ev.TranscriptFinal)
    assert (final.turn, final.text) == (turn, "turn on the lights")
    time.sleep(0.1)
    assert not any(isinstance(e, ev.ReplyStarted) for e in feeder.snapshot())
    session.close()


def test_end_turn_ends_the_users_turn_without_waiting_for_silence():
    session, feeder = make_session(silence_ms=5000)
    assert not session.end_turn()  # nothing to end yet
    session.feed(tone(1.0))
    assert session.end_turn()
    wait_for(feeder, ev.ReplyDone)
    names = kinds(feeder.snapshot())
    assert names.index("SpeechStopped") < names.index("TranscriptFinal")
    session.close()


def test_clear_input_drops_the_turn_in_progress():
    asr = ScriptedASR()
    session, feeder = make_session(asr=asr, silence_ms=300)
    session.feed(tone(1.0))
    session.clear_input()
    session.feed(silence(1.0))
    assert not any(isinstance(e, ev.SpeechStopped) for e in feeder.snapshot())
    assert not session.user_active
    session.close()


def test_reconfigure_changes_the_silence_that_ends_a_turn():
    session, feeder = make_session(silence_ms=2000)
    config = SessionConfig()
    config.turn.silence_ms = 300
    session.reconfigure(config)
    session.feed(tone(1.0))
    session.feed(silence(0.4))
    assert any(isinstance(e, ev.SpeechStopped) for e in feeder.snapshot())
    session.close()


def test_sessions_sharing_partial_slots_skip_previews_while_one_runs_and_never_leak_a_slot():
    import threading

    release = threading.Event()

    class BlockingASR(ScriptedASR):
        def transcribe(self, audio, prefix="", context=""):
            super().transcribe(audio, prefix, context)
            release.wait(10)
            return self.text

    asr = BlockingASR()
    slots = threading.Semaphore(1)
    responder = CascadeResponder(ScriptedLLM(REPLY), SilentTTS())
    first, second = (Session(EnergyVAD(), asr, responder, partial_slots=slots) for _ in range(2))
    first.feed(tone(1.5))  # its first partial starts and blocks
    deadline = time.monotonic() + 5
    while not asr.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    second.feed(tone(1.5))  # wants a partial too, but the only slot is taken: skipped
    assert len(asr.calls) == 1
    release.set()
    first.close()
    second.close()
    assert slots.acquire(timeout=2)  # the slot came back


class DurationASR(ScriptedASR):
    """Answers with the length of what it heard, so that pieces can be told apart."""

    def transcribe(self, audio, prefix="", context=""):
        super().transcribe(audio, prefix, context)
        return f"{audio.size / 16000:.3f}"


def test_a_long_turn_is_transcribed_in_pieces_cut_at_a_pause_and_answered_once():
    asr = DurationASR()
    session, feeder = make_session(asr=asr)
    session.config.segment_s = 2.0  # pieces of at most 2 s, cut within their last second
    # 1.5 s of speech, one silent frame (a pause between words), then 5 s more.
    speech = np.concatenate([tone(1.504), silence(0.032), tone(5.0)])  # 47 frames, then 1
    [result] = run_turns(session, feeder, [speech])
    events = feeder.snapshot()
    assert sum(isinstance(e, ev.SpeechStopped) for e in events) == 1
    assert sum(isinstance(e, ev.ReplyDone) for e in events) == 1
    pieces = [float(text) for text in result.transcript.split()]
    assert len(pieces) == 4
    assert pieces[0] == pytest.approx(1.536, abs=0.001)  # cut just after the silent frame
    assert all(piece <= 2.0 for piece in pieces)
    # Nothing was lost or heard twice: the pieces add up to the speech (in whole frames; the
    # answer was prepared at the pause), and no pass, partial or final, heard more than a piece.
    assert sum(pieces) == pytest.approx(speech.size / 16000, abs=0.064)
    assert max(seconds for seconds, _ in asr.calls) <= 2.0
    assert session.history[0].content == result.transcript
    session.close()


def test_a_long_turn_commits_a_piece_at_each_pause_and_committed_words_never_change():
    asr = DurationASR()
    session, feeder = make_session(asr=asr)
    session.config.commit_s = 1.0  # a piece at the first pause after 1 s of it
    answered = []  # seconds of audio the responder was given (a talker answers from it)
    respond = session.responder.respond

    def recording(history, turn, *args):
        answered.append(turn.audio.size / 16000)
        return respond(history, turn, *args)

    session.responder.respond = recording
    phrase, gap = tone(1.216), silence(0.128)  # 38 frames of speech, 4 silent ones
    speech = np.concatenate([phrase, gap, phrase, gap, phrase, gap, tone(0.5), silence(0.032),
                             tone(0.5)])
    [result] = run_turns(session, feeder, [speech])
    pieces = [float(text) for text in result.transcript.split()]
    # Three pieces cut in the middle of their pause; the one-frame dip is no cut (it could be
    # inside a word); then the tail the final pass heard alone, from the middle of the last
    # pause to the first silent frame at the end.
    assert pieces == pytest.approx([1.28, 1.344, 1.344, 1.152], abs=0.001)  # whole frames
    assert answered[-1] == pytest.approx(sum(pieces))  # the whole turn, not its last piece
    assert sum(isinstance(e, ev.ReplyDone) for e in feeder.snapshot()) == 1
    # Each piece was heard after the words before it, and no pass heard more than 2 s.
    texts = result.transcript.split()
    for n in range(1, len(texts)):
        assert " ".join(texts[:n]) in asr.contexts
    assert max(seconds for seconds, _ in asr.calls) <= 2.0
    committed = [e.committed for e in feeder.snapshot() if isinstance(e, ev.TranscriptPartial)]
    assert committed  # how many are made depends on the threads: fast feeding outruns them
    for earlier, later in zip(committed, [*committed[1:], result.transcript], strict=True):
        assert later.startswith(earlier)
    session.close()


@pytest.mark.parametrize("pause_s", [0.128, 0.8])
def test_a_blip_of_speech_after_the_last_pause_is_heard_with_the_piece_before_it(pause_s):
    asr = DurationASR()
    session, feeder = make_session(asr=asr, silence_ms=1000)
    session.config.commit_s = 1.0
    speech = np.concatenate([tone(1.216), silence(pause_s), tone(0.16)])  # a breath, say
    [result] = run_turns(session, feeder, [speech])
    # One final pass over the whole turn (to its first silent frame): two would cost more.
    [heard] = [float(text) for text in result.transcript.split()]
    assert heard == pytest.approx(speech.size / 16000, abs=0.033)
    session.close()


def test_a_responder_that_hears_audio_gets_the_last_30_s_of_a_longer_turn():
    session, feeder = make_session(asr=DurationASR())
    answered = []
    respond = session.responder.respond

    def recording(history, turn, *args):
        answered.append(turn.audio.size / 16000)
        return respond(history, turn, *args)

    session.responder.respond = recording
    run_turns(session, feeder, [tone(35.0)])  # no pause: cut at 25 s into pieces
    assert 29.9 < answered[-1] <= 30.0  # Whisper's window, which the talker refuses to pass
    session.close()


def test_an_unforeseen_engine_exception_fails_the_reply_once_and_the_session_goes_on(caplog):
    crash = ValueError("Requested tokens (5348) exceed context window of 2048")
    session, feeder = make_session(llm=ScriptedLLM(REPLY, crash=crash))
    session.name = "sess_test"
    with caplog.at_level("ERROR", logger="omnitalk.agent.session"):
        first, second = run_turns(session, feeder, [tone(1.0), tone(1.0)])
    assert first.cancelled == "error"
    assert any("reply_failed" in e and "exceed context window" in e for e in first.errors)
    assert second.reply_text == REPLY and not second.errors
    [record] = [r for r in caplog.records if r.exc_info]
    assert "sess_test" in record.getMessage() and record.exc_info[0] is ValueError
    session.close()


def answer(session, feeder, text: str, instructions: str | None = None) -> list[ev.Event]:
    """A text turn; the events it produced, up to its end."""
    seen = len(feeder.snapshot())
    session.respond_to_text(text, instructions)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        events = feeder.snapshot()[seen:]
        if any(isinstance(e, ev.ReplyDone | ev.ReplyCancelled) for e in events):
            return events
        time.sleep(0.005)
    raise AssertionError("the text turn did not end")


def test_history_is_fitted_to_the_llm_context_oldest_first():
    llm = ScriptedLLM("ok " * 10, prompt_limit=120)
    session, feeder = make_session(llm=llm)
    session.instructions = "Be brief."
    for turn in range(6):
        answer(session, feeder, f"question{turn} " + "word " * 19)
    for prompt in llm.prompts:
        assert sum(llm.count_tokens(m.content) + 8 for m in prompt) + 8 <= 120
        assert prompt[0].content == "Be brief." and prompt[-1].content.startswith("question")
        assert [m.role for m in prompt[1:-1]][:1] in ([], ["user"])
    # The newest exchange is kept and the oldest dropped.
    last = [m.content.split()[0] for m in llm.prompts[-1] if m.role == "user"]
    assert last == ["question4", "question5"]
    session.close()


def test_a_prompt_that_cannot_fit_fails_clearly_and_the_next_turn_is_answered():
    llm = ScriptedLLM("Sure.", prompt_limit=100)
    session, feeder = make_session(llm=llm)
    events = answer(session, feeder, "hi", instructions="rule " * 200)
    [error] = [e for e in events if isinstance(e, ev.ErrorEvent)]
    assert error.code == "context_length_exceeded" and "instructions alone" in error.message
    assert any(isinstance(e, ev.ReplyCancelled) and e.reason == "error" for e in events)
    events = answer(session, feeder, "word " * 150)
    [error] = [e for e in events if isinstance(e, ev.ErrorEvent)]
    assert "the user's message" in error.message
    events = answer(session, feeder, "hello")
    assert any(isinstance(e, ev.ReplyDone) for e in events)
    assert len(llm.prompts) == 1  # the LLM never saw a prompt that could not fit
    session.close()
