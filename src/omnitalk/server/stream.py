"""The raw binary profile (`/v1/stream`): PCM16 frames in, PCM16 reply audio and JSON events out.

For browsers and non-SDK clients. The audio rates are fixed per connection by the URL
(`input_rate`, `output_rate`); events are the session's own, as JSON (see docs/protocol.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from omnitalk.agent import events as ev
from omnitalk.agent.session import ReplyInProgress
from omnitalk.audio.pcm import float_to_pcm16, pcm16_to_float
from omnitalk.audio.resample import StreamResampler
from omnitalk.server.live import LiveSession, ReplyAudioOut
from omnitalk.server.wire import MAX_INSTRUCTIONS, ProtocolError, event_to_json, parse_message

SendJSON = Callable[[dict], Awaitable[None]]
SendBytes = Callable[[bytes], Awaitable[None]]

MAX_AUDIO_SECONDS_PER_MESSAGE = 2.0
MAX_TEXT_CHARS = 4000


class StreamProtocol:
    def __init__(
        self,
        live: LiveSession,
        send_json: SendJSON,
        send_bytes: SendBytes,
        input_rate: int,
        output_rate: int,
        max_message_bytes: int = 1 << 20,
    ) -> None:
        self.live = live
        self.session = live.session
        self._send_json = send_json
        self._send_bytes = send_bytes
        self.input_rate = input_rate
        self.output_rate = output_rate
        self.max_message_bytes = max_message_bytes
        self._resampler = StreamResampler(input_rate, live.session.sample_rate)
        self._reply_audio = ReplyAudioOut(output_rate)

    async def _error(self, code: str, message: str) -> None:
        turn = self.session.turn
        await self._send_json({"type": "error", "turn": turn, "audio_time":
                               round(self.session.audio_time, 3), "code": code,
                               "message": message})

    async def start(self) -> None:
        await self._send_json({
            "type": "ready", "turn": 0, "audio_time": 0.0, "session_id": self.live.id,
            "input_rate": self.input_rate, "output_rate": self.output_rate,
        })

    async def handle_binary(self, data: bytes) -> None:
        limit = int(MAX_AUDIO_SECONDS_PER_MESSAGE * self.input_rate) * 2
        if len(data) > limit:
            await self._error("message_too_large", f"audio messages are limited to "
                              f"{MAX_AUDIO_SECONDS_PER_MESSAGE:g} s ({limit} bytes)")
            return
        try:
            samples = pcm16_to_float(data)
        except ValueError as error:
            await self._error("invalid_audio", str(error))
            return
        await self.live.feed(self._resampler.process(samples))

    async def handle_text(self, raw: str) -> None:
        try:
            message = parse_message(raw, self.max_message_bytes)
        except ProtocolError as error:
            await self._error(error.code, error.message)
            return
        kind = message.get("type")
        if not isinstance(kind, str):
            await self._error("invalid_event", "a message needs a string `type`")
            return
        handlers = {"text": self._text, "cancel": self._cancel, "reset": self._reset,
                    "config": self._config}
        handler = handlers.get(kind)
        if handler is None:
            await self._error("unknown_event", f"unknown message type `{kind[:80]}`; "
                              "expected text, cancel, reset or config")
            return
        problem = await handler(message)
        if problem:
            await self._error(*problem)

    async def _text(self, message: dict) -> tuple[str, str] | None:
        text = message.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_CHARS:
            return "invalid_event", f"`text` must be a non-empty string of at most " \
                f"{MAX_TEXT_CHARS} characters"
        try:
            await self.live.call(self.session.respond_to_text, text)
        except ReplyInProgress as error:
            return "reply_in_progress", f"{error}; send cancel first"
        self.live.note({"type": "client_text", "text": text})
        return None

    async def _cancel(self, message: dict) -> None:
        await self.live.call(self.session.cancel_reply, "cancelled")

    async def _reset(self, message: dict) -> None:
        await self.live.call(self.session.reset)
        self._resampler.reset()

    async def _config(self, message: dict) -> tuple[str, str] | None:
        instructions = message.get("instructions")
        if instructions is not None and (
            not isinstance(instructions, str) or len(instructions) > MAX_INSTRUCTIONS
        ):
            return "invalid_event", f"`instructions` must be a string of at most " \
                f"{MAX_INSTRUCTIONS} characters"
        turn = dataclasses.replace(self.session.config.turn)
        for key, low, high in (("silence_ms", 32, 10000), ("threshold", 0.0, 1.0)):
            value = message.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                low <= value <= high
            ):
                return "invalid_event", f"`{key}` must be a number from {low} to {high}"
            setattr(turn, key, type(getattr(turn, key))(value))
        await self.live.call(
            self.session.reconfigure, dataclasses.replace(self.session.config, turn=turn)
        )
        if instructions is not None:
            self.session.instructions = instructions or None
        self.live.note({"type": "client_config", **{k: v for k, v in message.items()
                                                     if k != "type"}})
        return None

    async def handle_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.ReplyAudio):
            audio = self._reply_audio.push(event.audio, event.sample_rate)
            if audio.size:
                await self._send_bytes(float_to_pcm16(audio))
            return
        if isinstance(event, ev.ReplyStarted):
            self._reply_audio.start()
        record = event_to_json(event)
        if isinstance(event, ev.ReplyDone):
            tail = self._reply_audio.flush()
            if tail.size:
                await self._send_bytes(float_to_pcm16(tail))
            timings = self.session.timings.get(event.turn)
            record["timings"] = timings.as_ms() if timings is not None else {}
        await self._send_json(record)
