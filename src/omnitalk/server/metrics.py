"""Prometheus metrics of one server (`/metrics`): sessions, turns, replies, errors, queues, and
how long each stage of a turn took.

Each app keeps its own registry, so two servers in one process (tests) never share counts. Stage
latencies are measured per turn from the moment the session reported the end of the user's speech
to the moment it reported the stage, on this process's clock:
- `transcript`: the final transcript (end-of-speech -> text, the ASR tail);
- `first_text`: the first clause of the reply (adds the LLM's first clause);
- `first_audio`: the first reply audio, which is voice-to-voice less the network.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from omnitalk.agent import events as ev
from omnitalk.engines.scheduler import CPU

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: fine below a second, where the targets are, and coarse up to the queueing regime.
STAGE_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
STAGES = ("transcript", "first_text", "first_audio")


class ServerMetrics:
    """The counters and gauges of one server. The callables are read at every scrape."""

    def __init__(self, open_sessions: Callable[[], int], waiting_sessions: Callable[[], int],
                 queued_events: Callable[[], int], ready: Callable[[], bool],
                 draining: Callable[[], bool]) -> None:
        self.registry = CollectorRegistry()
        on = {"registry": self.registry}
        Gauge("omnitalk_sessions", "Sessions open now", **on).set_function(open_sessions)
        Gauge("omnitalk_sessions_waiting", "Clients waiting for a free session slot",
              **on).set_function(waiting_sessions)
        Gauge("omnitalk_queued_events", "Events waiting to be sent to clients, all sessions",
              **on).set_function(queued_events)
        Gauge("omnitalk_ready", "1 while /readyz answers ready", **on).set_function(
            lambda: float(ready()))
        Gauge("omnitalk_draining", "1 once SIGTERM has begun the drain", **on).set_function(
            lambda: float(draining()))
        self.sessions_opened = Counter("omnitalk_sessions_opened", "Sessions opened, by endpoint",
                                       ["endpoint"], **on)
        self.sessions_refused = Counter("omnitalk_sessions_refused", "Sessions refused, by reason",
                                        ["reason"], **on)
        self.turns = Counter("omnitalk_turns", "User turns whose speech ended", **on)
        self.replies = Counter("omnitalk_replies", "Replies by how they ended (done, barge-in, "
                               "error, cancelled)", ["outcome"], **on)
        self.errors = Counter("omnitalk_errors", "Errors reported to clients or ending sessions, "
                              "by code", ["code"], **on)
        self.stage_seconds = Histogram(
            "omnitalk_stage_seconds", "Seconds from the end of the user's speech to each stage "
            "of the answer", ["stage"], buckets=STAGE_BUCKETS, **on)
        for stage in STAGES:  # present from the first scrape, at zero
            self.stage_seconds.labels(stage)
        Gauge("omnitalk_compute_waiting", "Steps (ASR passes, LLM tokens, TTS sentences) waiting "
              "for the CPU", **on).set_function(lambda: CPU.waiting)
        self.registry.register(_ComputeSeconds())

    def turn_clock(self) -> TurnClock:
        return TurnClock(self)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class TurnClock:
    """One session's stage timer: fed every event the session emits, from whichever thread
    emits it."""

    def __init__(self, metrics: ServerMetrics, clock: Callable[[], float] = time.monotonic) -> None:
        self._metrics = metrics
        self._clock = clock
        self._lock = threading.Lock()
        self._turn = -1  # the turn whose speech ended last
        self._speech_ended = 0.0
        self._seen: set[str] = set()  # the stages already timed for that turn

    def observe(self, event: ev.Event) -> None:
        metrics = self._metrics
        with self._lock:
            if isinstance(event, ev.SpeechStopped):
                metrics.turns.inc()
                self._turn, self._speech_ended, self._seen = event.turn, self._clock(), set()
            elif isinstance(event, ev.TranscriptFinal):
                self._time("transcript", event.turn)
            elif isinstance(event, ev.ReplyTextDelta):
                self._time("first_text", event.turn)
            elif isinstance(event, ev.ReplyAudio):
                self._time("first_audio", event.turn)
            elif isinstance(event, ev.ReplyDone):
                metrics.replies.labels("done").inc()
            elif isinstance(event, ev.ReplyCancelled):
                metrics.replies.labels(event.reason).inc()
            elif isinstance(event, ev.ErrorEvent):
                metrics.errors.labels(event.code).inc()

    def _time(self, stage: str, turn: int) -> None:
        """Once per turn, and only for a turn that ended in speech (typed turns have no start)."""
        if turn != self._turn or stage in self._seen:
            return
        self._seen.add(stage)
        self._metrics.stage_seconds.labels(stage).observe(self._clock() - self._speech_ended)


class _ComputeSeconds:
    """The process scheduler's running totals, read at each scrape (the process's, not this
    server's alone: they share the cores)."""

    def collect(self):
        family = CounterMetricFamily("omnitalk_compute_seconds", "Seconds of compute by kind of "
                                     "step, in this process", labels=["kind"])
        for kind, seconds in sorted(CPU.busy_seconds().items()):
            family.add_metric([kind], seconds)
        yield family
