"""One client's conversation, driven from asyncio.

The Session runs its ASR, LLM and TTS on threads and reports from them; `LiveSession` hands those
events to the event loop through a queue. Feeding audio (the VAD, well under a millisecond per
frame) runs on the connection's own worker thread, so the event loop never blocks and frames stay
in order. `close()` cancels the reply and joins every thread the session started.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from omnitalk.agent import events as ev
from omnitalk.agent.session import Session
from omnitalk.audio.resample import StreamResampler
from omnitalk.server.memory import release_freed_memory
from omnitalk.server.records import SessionRecorder

# Called as make_session(on_event, name=session_id).
SessionFactory = Callable[..., Session]


class LiveSession:
    def __init__(
        self,
        make_session: SessionFactory,
        loop: asyncio.AbstractEventLoop,
        recorder: SessionRecorder | None = None,
        observe: Callable[[ev.Event], None] | None = None,
    ) -> None:
        """`observe` sees every event as the session emits it, on the emitting thread (the
        server's stage timer: the time it is queued for the client is not the session's)."""
        self.id = "sess_" + secrets.token_hex(8)
        self.events: asyncio.Queue[ev.Event] = asyncio.Queue()
        self.recorder = recorder
        self._loop = loop
        self._closed = False
        self._observe = observe
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feed")
        self.session = make_session(self._on_event, name=self.id)

    @property
    def closing(self) -> bool:
        """Its client has gone and its threads are being joined."""
        return self._closed

    def _on_event(self, event: ev.Event) -> None:  # any thread
        if self._closed:
            return
        if self._observe is not None:
            self._observe(event)
        try:
            self._loop.call_soon_threadsafe(self._deliver, event)
        except RuntimeError:  # the event loop has stopped: the server is shutting down
            pass

    def _deliver(self, event: ev.Event) -> None:
        if self._closed:
            return
        if self.recorder is not None:
            self.recorder.event(event)
        self.events.put_nowait(event)

    async def call(self, function: Callable, *args):
        """Run a session method on this connection's worker, in order with the audio."""
        return await self._loop.run_in_executor(self._worker, function, *args)

    async def feed(self, audio: np.ndarray) -> None:
        """16 kHz float32 mono samples from the client."""
        if self.recorder is not None:
            self.recorder.user_audio(audio)
        await self.call(self.session.feed, audio)

    def note(self, record: dict) -> None:
        if self.recorder is not None:
            self.recorder.note(record)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._shut_down)

    def _shut_down(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)
        self.session.close()
        if self.recorder is not None:
            self.recorder.close()
        release_freed_memory()


class ReplyAudioOut:
    """Reply audio converted to the rate the client asked for, one reply at a time."""

    def __init__(self, rate_out: int) -> None:
        self.rate_out = rate_out
        self._resampler: StreamResampler | None = None

    def start(self) -> None:
        self._resampler = None

    def push(self, samples: np.ndarray, rate_in: int) -> np.ndarray:
        if self._resampler is None or self._resampler.rate_in != rate_in:
            self._resampler = StreamResampler(rate_in, self.rate_out)
        return self._resampler.process(samples)

    def flush(self) -> np.ndarray:
        """The resampler's last samples, at the end of a reply."""
        if self._resampler is None:
            return np.zeros(0, np.float32)
        tail = self._resampler.process(np.zeros(0, np.float32), last=True)
        self._resampler = None
        return tail
