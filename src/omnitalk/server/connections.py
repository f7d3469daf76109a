"""Connection hygiene under the app: request heads arrive in time, connections are capped, and
a flood of failures is logged once, not once per failure.

uvicorn waits as long as it takes for the head of a request on a new connection, so a client that
sends half a header and stops (slowloris) holds a socket for ever; enough of them use up the file
descriptors and the server stops answering. `guarded_http_protocol` gives each request head
`header_timeout_s` to arrive and keeps at most `max_connections` sockets open: when a new one
would go over, the longest-waiting idle connection (no request in progress) is dropped for it,
so clients that send a request at once, health checks included, still get in during a flood.
Idle keep-alive connections close after uvicorn's `timeout_keep_alive`.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import OrderedDict
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("omnitalk.server")
# Descriptors kept free for everything that is not a client socket (models, logs, records).
RESERVED_DESCRIPTORS = 256
# asyncio accepts up to `backlog` sockets per wake-up and the cap sees them only a loop turn or
# two later, so about two bursts are open beyond the cap: they must fit in the reserve with room
# to spare, or a flood makes accept() fail for want of descriptors.
ACCEPT_BACKLOG = RESERVED_DESCRIPTORS // 4
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int = 1000
    header_timeout_s: float = 10.0


def guarded_http_protocol(limits: ConnectionLimits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a header deadline and a connection cap (one class per server:
    the idle connections it may drop are its own)."""
    idle: OrderedDict[GuardedH11Protocol, None] = OrderedDict()  # oldest first

    class GuardedH11Protocol(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                if not idle:  # every connection is in use: this one cannot be served
                    transport.write(_BUSY)
                    transport.close()
                    return
                oldest = next(iter(idle))
                oldest._drop()
            idle[self] = None
            self._deadline = self.loop.call_later(limits.header_timeout_s, self._drop)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            upgraded = self.transport.get_protocol() is not self
            if upgraded or self.conn.their_state is not h11.IDLE:
                self._busy()  # a request head has arrived
            elif self._deadline is None:  # a kept-alive connection has begun its next request
                self._deadline = self.loop.call_later(limits.header_timeout_s, self._drop)

        def on_response_complete(self) -> None:
            super().on_response_complete()  # arms uvicorn's keep-alive timeout
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                idle[self] = None

        def connection_lost(self, exc: Exception | None) -> None:
            self._busy()
            super().connection_lost(exc)

        def _busy(self) -> None:
            idle.pop(self, None)
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _drop(self) -> None:
            """No request head in time, or room is needed: close without a word (a slow client
            would not read one)."""
            self._busy()
            self.transport.abort()

    return GuardedH11Protocol


def connection_cap(wanted: int) -> int:
    """`wanted`, or less if the process may not open that many descriptors even after raising
    its soft limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted + RESERVED_DESCRIPTORS and soft != hard:
        target = hard if hard != resource.RLIM_INFINITY else wanted + RESERVED_DESCRIPTORS
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    room = soft - RESERVED_DESCRIPTORS
    if room < wanted:
        log.warning("only %d file descriptors may be open: serving at most %d connections, "
                    "not %d", soft, max(room, 1), wanted)
    return max(1, min(wanted, room))


class RateLimitedLoopErrors:
    """An event-loop exception handler that reports each kind of failure at most once per
    `interval_s`, with a count of the ones it held back: a flood of failed accepts (no
    descriptors left) must not become a flood of tracebacks."""

    MAX_KINDS = 256

    def __init__(self, interval_s: float = 10.0) -> None:
        self.interval_s = interval_s
        self._last: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict) -> None:
        message = str(context.get("message", ""))
        error = context.get("exception")
        # Messages such as "Exception in callback <handle>" differ in their tail only.
        kind = (message[:40], type(error).__name__)
        now = time.monotonic()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval_s:
            self._held[kind] = self._held.get(kind, 0) + 1
            return
        if len(self._last) >= self.MAX_KINDS:
            self._last.clear()
            self._held.clear()
        self._last[kind] = now
        held = self._held.pop(kind, 0)
        if held:
            context = {**context, "message": f"{message} ({held} more like this in the last "
                                             f"{self.interval_s:g} s were not logged)"}
        loop.default_exception_handler(context)
