"""A graceful stop for a replica behind a load balancer.

uvicorn stops on SIGTERM by closing every socket, which cuts each running conversation mid-word.
`DrainingServer` turns the first SIGTERM into a drain instead: `/readyz` answers 503 at once (the
load balancer's health check takes the replica out of rotation), new sessions are refused with
"try again later", running sessions go on until their clients leave, and the process exits when
the last has gone or `drain_s` has passed. SIGINT (Ctrl-C), or a second SIGTERM, stops at once as
uvicorn always has.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable

import uvicorn

log = logging.getLogger("omnitalk.server")


class Drain:
    """Whether the server is draining, and until when; shared by the app and the server loop."""

    def __init__(self, drain_s: float) -> None:
        self.drain_s = drain_s
        self.deadline: float | None = None

    @property
    def draining(self) -> bool:
        return self.deadline is not None

    def begin(self) -> None:
        if self.deadline is None:
            self.deadline = time.monotonic() + self.drain_s

    def overdue(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, drain: Drain,
                 open_sessions: Callable[[], int]) -> None:
        super().__init__(config)
        self.drain = drain
        self.open_sessions = open_sessions
        self._drain_logged = False

    def handle_exit(self, sig: int, frame) -> None:  # a signal handler: set flags, no more
        if sig == signal.SIGTERM and not self.drain.draining and not self.should_exit:
            self.drain.begin()
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.drain.draining and not self.should_exit:
            sessions = self.open_sessions()
            if not self._drain_logged:
                self._drain_logged = True
                log.info("SIGTERM: draining (%d sessions running; new ones refused; exit when "
                         "they end or in %.0f s)", sessions, self.drain.drain_s)
            if sessions == 0 or self.drain.overdue():
                if sessions:
                    log.warning("drain time is up: closing %d sessions still running", sessions)
                else:
                    log.info("drained: no sessions left")
                self.should_exit = True
        return await super().on_tick(counter)
