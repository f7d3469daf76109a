"""Who computes next when sessions share the CPU: the step whose result is needed first.

Every heavy step of a conversation (an ASR pass, one LLM token, one sentence of TTS) is run
inside `CPU.turn(deadline)`, where the deadline is the `time.perf_counter()` moment its result is
needed: for a reply, when its next audio must play (so the first clause of a new reply goes
before the fifth clause of one that has seconds of audio queued); for a speculative reply, when
the user's silence would end the turn. One step runs at a time, earliest deadline first; a
step in progress is never interrupted, so no step is long (a token, a sentence, a transcription
pass). Partial transcripts, which nobody waits for, stay outside (`agent/session.py`).

There is one scheduler per process, because there is one set of cores: engines that each take
every core would otherwise run side by side and slow one another down. It counts the seconds
each kind of step has run (`busy_seconds`), which `bench serve` and `/metrics` report.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

NOT_NEEDED = math.inf  # a cancelled reply's remaining steps: after everything else


class DeadlineScheduler:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        # Waiting steps: ticket -> its deadline as last read (a callable is read at each wake).
        self._waiting: dict[int, float] = {}
        self._tickets = itertools.count()
        self._owner: int | None = None  # the thread whose step runs
        self._depth = 0
        self._busy: Counter[str] = Counter()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def running(self) -> bool:
        return self._owner is not None

    def busy_seconds(self) -> dict[str, float]:
        """Seconds that steps of each kind have run, since the process started."""
        with self._changed:
            return dict(self._busy)

    def nudge(self) -> None:
        """Deadlines given as callables may have changed: waiting steps read them again."""
        with self._changed:
            self._changed.notify_all()

    @contextmanager
    def turn(self, deadline: float | Callable[[], float], kind: str = "other") -> Iterator[None]:
        """Wait until no step with an earlier deadline is waiting and none runs, then run this
        one. `deadline` may be a callable, read again whenever the scheduler changes. A step may
        nest others (they run at once, as part of it, and count as it)."""
        read = deadline if callable(deadline) else (lambda: deadline)
        me = threading.get_ident()
        with self._changed:
            if self._owner == me:
                self._depth += 1
            else:
                ticket = next(self._tickets)
                try:
                    while True:
                        self._waiting[ticket] = read()
                        first = min(self._waiting, key=lambda t: (self._waiting[t], t))
                        if self._owner is None and first == ticket:
                            break
                        self._changed.wait()
                finally:
                    del self._waiting[ticket]
                    self._changed.notify_all()  # the next in line may go, or re-read
                self._owner, self._depth = me, 1
        started = time.perf_counter()
        try:
            yield
        finally:
            with self._changed:
                self._depth -= 1
                if self._depth == 0:
                    self._busy[kind] += time.perf_counter() - started
                    self._owner = None
                    self._changed.notify_all()

    def steps(self, iterator: Iterator, deadline, kind: str = "other") -> Iterator:
        """`iterator`'s items, each computed in a turn at `deadline()` (read before each)."""
        while True:
            with self.turn(deadline(), kind):
                item = next(iterator, _END)
            if item is _END:
                return
            yield item


_END = object()
CPU = DeadlineScheduler()
