"""Earliest deadline first across sessions: the scheduler, and sessions whose replies share it.

Everything is asserted by the order in which steps ran, never by how long they took.
"""

from __future__ import annotations

import threading
import time

from fakes import ScriptedLLM, silence, tone
from omnitalk.agent import events as ev
from omnitalk.engines.scheduler import NOT_NEEDED, DeadlineScheduler
from test_session import make_session, wait_for

LONG = " ".join(f"word{i}." for i in range(40))  # one clause per word


def test_waiting_steps_run_earliest_deadline_first_and_a_running_step_is_not_interrupted():
    scheduler, ran = DeadlineScheduler(), []
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with scheduler.turn(100.0):  # the latest deadline, but it runs first: it came first
            holding.set()
            release.wait()
            ran.append("running")

    def step(name: str, deadline: float) -> None:
        with scheduler.turn(deadline):
            ran.append(name)

    threads = [threading.Thread(target=hold)]
    threads[0].start()
    holding.wait()
    for name, deadline in (("cancelled", NOT_NEEDED), ("later", 3.0), ("first", 1.0),
                           ("second", 2.0)):
        threads.append(threading.Thread(target=step, args=(name, deadline)))
        threads[-1].start()
    while scheduler.waiting < 4:
        time.sleep(0.001)
    release.set()
    for thread in threads:
        thread.join()
    assert ran == ["running", "first", "second", "later", "cancelled"]


def test_a_step_may_run_steps_inside_itself():
    scheduler, ran = DeadlineScheduler(), []
    with scheduler.turn(1.0):
        with scheduler.turn(5.0):
            ran.append("inner")
        ran.append("outer")
    with scheduler.turn(2.0):  # free again afterwards
        ran.append("after")
    assert ran == ["inner", "outer", "after"]


def test_steps_computes_each_item_in_a_turn_at_the_deadline_of_that_moment():
    scheduler = DeadlineScheduler()
    deadlines = iter([3.0, 2.0, 1.0, 0.0])
    seen = []

    def items():
        for item in "abc":
            seen.append((item, scheduler.waiting, scheduler.running))
            yield item

    assert list(scheduler.steps(items(), lambda: next(deadlines))) == ["a", "b", "c"]
    assert seen == [("a", 0, True), ("b", 0, True), ("c", 0, True)]


# ----------------------------------------------------------------- sessions sharing the CPU


def test_a_new_reply_goes_before_the_rest_of_a_reply_with_audio_queued():
    """Session A's long reply has seconds of audio made when B's short one starts: B's words are
    computed first, and A's go on after (with one llama.cpp lock per reply, B waited for all of
    A's)."""
    order: list[tuple[str, str]] = []
    a, a_events = make_session(ScriptedLLM(LONG, delay_s=0.01, order=order, tag="a"))
    b, b_events = make_session(ScriptedLLM("Sure, here.", delay_s=0.01, order=order, tag="b"))
    a.feed(tone(1.0))
    a.feed(silence(0.6))
    # A has made at least eight clauses (two seconds of audio) before B's turn ends.
    while sum(isinstance(e, ev.ReplyTextDelta) for e in a_events.snapshot()) < 8:
        time.sleep(0.002)
    b.feed(tone(1.0))
    b.feed(silence(0.6))
    wait_for(b_events, ev.ReplyDone)
    wait_for(a_events, ev.ReplyDone)
    tags = [tag for tag, _ in order]
    first_b, last_b = tags.index("b"), len(tags) - 1 - tags[::-1].index("b")
    assert "a" not in tags[first_b:last_b + 1]
    assert tags[last_b + 1:] and set(tags[last_b + 1:]) == {"a"}  # A finished afterwards
    a.close()
    b.close()


def test_a_speculative_reply_does_not_delay_a_committed_one():
    """A pauses (its reply is prepared speculatively, needed only when its 3 s silence would end
    the turn); B's typed turn is committed at once: none of A's steps run while B's reply is
    being made, until B's audio runs further ahead than A's deadline."""
    order: list[tuple[str, str]] = []
    a, a_events = make_session(ScriptedLLM(LONG, delay_s=0.01, order=order, tag="a"),
                               silence_ms=3000)
    b, b_events = make_session(ScriptedLLM("One. Two. Three. Four.", delay_s=0.01, order=order,
                                           tag="b"))
    a.feed(tone(1.0))
    a.feed(silence(0.3))  # a pause, not yet the end of A's turn
    while not any(tag == "a" for tag, _ in order):
        time.sleep(0.002)
    b.respond_to_text("Hello?")
    wait_for(b_events, ev.ReplyDone)
    tags = [tag for tag, _ in order]
    first_b, last_b = tags.index("b"), len(tags) - 1 - tags[::-1].index("b")
    assert "a" not in tags[first_b:last_b + 1]
    assert not any(isinstance(e, ev.ReplyStarted) for e in a_events.snapshot())  # still held
    a.close()
    b.close()


def test_a_deadline_given_as_a_callable_is_read_again_while_it_waits():
    """A waiting step whose need grew urgent (a reply joined its batch) goes before one that was
    more urgent when both began to wait."""
    scheduler, ran = DeadlineScheduler(), []
    holding, release = threading.Event(), threading.Event()
    batch_deadline = [5.0]

    def hold() -> None:
        with scheduler.turn(0.0):
            holding.set()
            release.wait()

    def step(name: str, deadline) -> None:
        with scheduler.turn(deadline):
            ran.append(name)

    holder = threading.Thread(target=hold)
    holder.start()
    holding.wait()
    threads = [threading.Thread(target=step, args=("batch", lambda: batch_deadline[0])),
               threading.Thread(target=step, args=("tts", 3.0))]
    for thread in threads:
        thread.start()
    while scheduler.waiting < 2:
        time.sleep(0.001)
    batch_deadline[0] = 1.0
    scheduler.nudge()
    release.set()
    for thread in [holder, *threads]:
        thread.join()
    assert ran == ["batch", "tts"]
