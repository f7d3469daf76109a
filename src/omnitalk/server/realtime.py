"""The OpenAI Realtime protocol (`/v1/realtime`) over a conversation session.

Client events arrive as JSON text; `handle_text` validates each one and acts on the session, and
every rejected event gets an `error` with a specific code. `handle_event` turns the session's
typed events into server events. Two dialects differ in names and session shape:

- GA (the default): `response.output_audio.delta`, `session.audio.input.format`, ...
- beta (clients that send the `OpenAI-Beta: realtime=v1` header): `response.audio.delta`,
  `input_audio_format: "pcm16"`, a top-level `turn_detection`, ...

`session.update` accepts both shapes in either dialect; replies use the client's dialect.
Audio is base64 PCM16 mono at the session's rates (24 kHz unless the client says otherwise).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from omnitalk.agent import events as ev
from omnitalk.agent.session import ReplyInProgress
from omnitalk.agent.turn_policy import ModelPolicy, TurnPolicy
from omnitalk.audio.pcm import float_to_pcm16, pcm16_to_float
from omnitalk.audio.resample import StreamResampler
from omnitalk.server.live import LiveSession, ReplyAudioOut
from omnitalk.server.realtime_settings import (
    EAGERNESS_MODEL,
    RealtimeSettings,
    object_field,
    read_session_update,
)
from omnitalk.server.wire import MAX_INSTRUCTIONS, ProtocolError, parse_message

Send = Callable[[dict], Awaitable[None]]

# Seconds of audio per delta sent to the client: small enough to start playing early.
AUDIO_DELTA_SECONDS = 0.2


@dataclass
class _Response:
    id: str
    item_id: str
    turn: int
    user_item_id: str | None
    audio_out: ReplyAudioOut
    transcript: list[str] = field(default_factory=list)
    done: bool = False


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


class RealtimeProtocol:
    def __init__(
        self,
        live: LiveSession,
        send: Send,
        settings: RealtimeSettings,
        beta: bool = False,
        max_message_bytes: int = 1 << 20,
        model_policy: Callable[[], ModelPolicy | None] | None = None,
    ) -> None:
        self.live = live
        self.session = live.session
        self._send = send
        self.settings = settings
        self.beta = beta
        self.max_message_bytes = max_message_bytes
        self.configured = False  # audio is refused until the first session.update
        self._resampler = StreamResampler(settings.input_rate, live.session.sample_rate)
        self._manual_buffer: list[np.ndarray] = []
        self._manual_samples = 0
        self._pending_inputs: list[tuple[str, asyncio.Future]] = []  # (item id, text future)
        self._turn_items: dict[int, str] = {}
        self._speech_start: dict[str, float] = {}
        self._speech_seconds: dict[str, float] = {}
        # Transcripts of manual commits that arrive before `_commit` has named their item.
        self._early_transcripts: dict[int, ev.TranscriptFinal] = {}
        # Barge-in delay when interrupt_response is on (the server's configured value).
        self._barge_in_ms = live.session.config.turn.barge_in_ms or 32
        self._last_item_id: str | None = None
        self._response: _Response | None = None
        # `semantic_vad` asks for the state head (blocking the first time: it loads); any
        # other turn detection keeps the server's own policy.
        self._model_policy = model_policy
        self._server_policy = live.session.policy
        self._apply_to_session()

    # ------------------------------------------------------------------------ sending

    async def _emit(self, event_type: str, **fields: Any) -> None:
        await self._send({"type": event_type, "event_id": _new_id("event"), **fields})

    async def _error(self, error: ProtocolError, event_id: str | None = None) -> None:
        await self._emit("error", error={
            "type": "invalid_request_error",
            "code": error.code,
            "message": error.message,
            "param": error.param,
            "event_id": event_id,
        })

    async def start(self) -> None:
        await self._emit("session.created", session=self._session_object())

    # ------------------------------------------------------------------ client events

    async def handle_text(self, raw: str) -> None:
        """One client message; never raises for anything the client sent."""
        event_id = None
        try:
            message = parse_message(raw, self.max_message_bytes)
            event_id = message.get("event_id") if isinstance(message.get("event_id"), str) else None
            event_type = message.get("type")
            if not isinstance(event_type, str):
                raise ProtocolError("invalid_event", "the event has no string `type`", "type")
            handler = self._handlers().get(event_type)
            if handler is None:
                if event_type in _UNSUPPORTED_EVENTS:
                    raise ProtocolError(
                        "unsupported_event", f"`{event_type}` is not supported by omnitalk", "type"
                    )
                raise ProtocolError(
                    "unknown_event_type", f"unknown client event type `{event_type[:80]}`", "type"
                )
            await handler(message)
        except ProtocolError as error:
            await self._error(error, event_id)

    async def handle_binary(self, data: bytes) -> None:
        await self._error(ProtocolError(
            "binary_not_supported",
            "the Realtime protocol carries audio as base64 in input_audio_buffer.append; "
            "raw PCM frames go to /v1/stream",
        ))

    def _handlers(self) -> dict[str, Callable[[dict], Awaitable[None]]]:
        return {
            "session.update": self._session_update,
            "input_audio_buffer.append": self._append,
            "input_audio_buffer.commit": self._commit,
            "input_audio_buffer.clear": self._clear,
            "conversation.item.create": self._item_create,
            "conversation.item.truncate": self._item_truncate,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
        }

    async def _session_update(self, message: dict) -> None:
        update = object_field(message, "session")
        settings = dataclasses.replace(self.settings)
        read_session_update(update, settings)
        switched_mode = settings.server_vad != self.settings.server_vad
        rate_changed = settings.input_rate != self.settings.input_rate
        policy = await self._policy_for(settings)
        self.settings = settings
        if switched_mode:
            self._drop_input()
        if rate_changed:
            self._resampler = StreamResampler(settings.input_rate, self.session.sample_rate)
        self._apply_to_session(policy)
        self.configured = True
        self.live.note({"type": "session.update", "session": self._session_object()})
        await self._emit("session.updated", session=self._session_object())

    async def _policy_for(self, settings: RealtimeSettings) -> TurnPolicy:
        if not (settings.server_vad and settings.semantic_vad) or self._model_policy is None:
            return self._server_policy
        model = await asyncio.to_thread(self._model_policy)
        if model is None:  # no head (the reason is logged): eagerness picks the silence
            return self._server_policy
        return model.tuned(*EAGERNESS_MODEL[settings.eagerness])

    def _apply_to_session(self, policy: TurnPolicy | None = None) -> None:
        s = self.settings
        config = dataclasses.replace(
            self.session.config,
            speech_pad_ms=s.prefix_padding_ms,
            turn=dataclasses.replace(
                self.session.config.turn,
                threshold=s.threshold,
                silence_ms=s.silence_duration_ms,
                barge_in_ms=self._barge_in_ms if s.interrupt_response else 0,
            ),
        )
        self.session.reconfigure(config, policy)
        self.session.instructions = s.instructions or None

    async def _append(self, message: dict) -> None:
        if not self.configured:
            raise ProtocolError(
                "session_not_configured",
                "send session.update (audio formats, turn detection) before any audio",
            )
        encoded = message.get("audio")
        if not isinstance(encoded, str):
            raise ProtocolError("invalid_event", "`audio` must be a base64 string", "audio")
        try:
            pcm = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ProtocolError(
                "invalid_base64", f"`audio` is not valid base64: {error}", "audio"
            ) from None
        try:
            samples = pcm16_to_float(pcm)
        except ValueError as error:
            raise ProtocolError("invalid_audio", str(error), "audio") from None
        audio = self._resampler.process(samples)
        if self.settings.server_vad:
            await self.live.feed(audio)
            return
        limit = int(self.settings.max_buffer_seconds * self.session.sample_rate)
        if self._manual_samples + audio.size > limit:
            raise ProtocolError(
                "input_audio_buffer_full",
                f"the input buffer holds at most {self.settings.max_buffer_seconds:g} s; "
                "commit or clear it",
            )
        self._manual_buffer.append(audio)
        self._manual_samples += audio.size

    async def _commit(self, message: dict) -> None:
        if self.settings.server_vad:
            if not await self.live.call(self.session.end_turn):
                raise ProtocolError(
                    "input_audio_buffer_commit_empty", "no speech has been detected to commit"
                )
            return  # the session's speech_stopped event reports the commit
        if self._manual_samples < 0.1 * self.session.sample_rate:
            raise ProtocolError(
                "input_audio_buffer_commit_empty",
                "the buffer holds less than 100 ms of audio; append more before committing",
            )
        audio = np.concatenate(self._manual_buffer)
        self._manual_buffer, self._manual_samples = [], 0
        self._resampler.reset()
        item_id = _new_id("item")
        turn, transcript = await self.live.call(self.session.transcribe_turn, audio)
        self._speech_seconds[item_id] = audio.size / self.session.sample_rate
        self._pending_inputs.append((item_id, asyncio.wrap_future(transcript)))
        self.live.note({"type": "input_audio_buffer.commit", "item_id": item_id})
        await self._user_item_committed(item_id)
        # The transcript may already have been reported (the event pump runs while this
        # coroutine waits): it was held back until the item existed, so it follows it now.
        self._turn_items[turn] = item_id
        early = self._early_transcripts.pop(turn, None)
        if early is not None:
            await self.handle_event(early)

    async def _clear(self, message: dict) -> None:
        self._drop_input()
        await self._emit("input_audio_buffer.cleared")

    def _drop_input(self) -> None:
        self._manual_buffer, self._manual_samples = [], 0
        self._resampler.reset()
        self.session.clear_input()

    async def _item_create(self, message: dict) -> None:
        item = object_field(message, "item")
        if item.get("type", "message") != "message":
            raise ProtocolError(
                "unsupported_item", "only message items can be created (no function calls)",
                "item.type",
            )
        if item.get("role") != "user":
            raise ProtocolError(
                "unsupported_item", "only user messages can be added to the conversation",
                "item.role",
            )
        content = item.get("content")
        if not isinstance(content, list) or not content:
            raise ProtocolError("invalid_event", "`item.content` must be a non-empty list",
                                "item.content")
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") not in ("input_text", "text"):
                raise ProtocolError(
                    "unsupported_content",
                    "user messages may only hold input_text parts; stream audio with "
                    "input_audio_buffer.append",
                    "item.content",
                )
            text = part.get("text")
            if not isinstance(text, str) or len(text) > MAX_INSTRUCTIONS:
                raise ProtocolError(
                    "invalid_event", f"input_text needs a `text` of at most {MAX_INSTRUCTIONS} "
                    "characters", "item.content.text",
                )
            texts.append(text)
        item_id = item.get("id") if isinstance(item.get("id"), str) else _new_id("item")
        done: asyncio.Future = asyncio.get_running_loop().create_future()
        done.set_result(" ".join(texts))
        self._pending_inputs.append((item_id, done))
        self.live.note({"type": "conversation.item.create", "item_id": item_id, "text": texts})
        await self._emit(
            "conversation.item.created",
            previous_item_id=self._last_item_id,
            item={
                "id": item_id, "object": "realtime.item", "type": "message", "role": "user",
                "status": "completed",
                "content": [{"type": "input_text", "text": text} for text in texts],
            },
        )
        self._last_item_id = item_id

    async def _item_truncate(self, message: dict) -> None:
        # The session already keeps only what was heard (by the input audio clock); the truncate
        # is acknowledged so that clients which send it after a barge-in carry on.
        item_id = message.get("item_id")
        audio_end_ms = message.get("audio_end_ms")
        if not isinstance(item_id, str) or not isinstance(audio_end_ms, int):
            raise ProtocolError("invalid_event", "truncate needs `item_id` and integer "
                                "`audio_end_ms`", "item_id")
        await self._emit("conversation.item.truncated", item_id=item_id,
                         content_index=message.get("content_index", 0), audio_end_ms=audio_end_ms)

    async def _response_create(self, message: dict) -> None:
        options = message.get("response") or {}
        if not isinstance(options, dict):
            raise ProtocolError("invalid_event", "`response` must be an object", "response")
        instructions = options.get("instructions")
        if instructions is not None and (
            not isinstance(instructions, str) or len(instructions) > MAX_INSTRUCTIONS
        ):
            raise ProtocolError("invalid_event", "`instructions` must be a string of at most "
                                f"{MAX_INSTRUCTIONS} characters", "response.instructions")
        if self._response is not None and not self._response.done:
            raise ProtocolError(
                "conversation_already_has_active_response",
                f"response {self._response.id} is still in progress; cancel it first",
            )
        if not self._pending_inputs:
            raise ProtocolError(
                "no_user_input",
                "there is no new user input to answer: add a user message or commit audio first",
            )
        pending, self._pending_inputs = self._pending_inputs, []
        texts = [await future for _, future in pending]
        text = " ".join(t for t in texts if t)
        if not text.strip():
            raise ProtocolError("no_user_input", "the user input was empty or not understood")
        try:
            await self.live.call(self.session.respond_to_text, text, instructions)
        except ReplyInProgress as error:
            # The reply began before its response.created was sent: keep the input for later.
            self._pending_inputs = pending + self._pending_inputs
            raise ProtocolError("conversation_already_has_active_response", str(error)) from None

    async def _response_cancel(self, message: dict) -> None:
        if self._response is None or self._response.done:
            raise ProtocolError("response_cancel_not_active", "there is no response to cancel")
        await self.live.call(self.session.cancel_reply, "cancelled")

    # ------------------------------------------------------------------ session events

    async def handle_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.SpeechStarted):
            item_id = self._turn_items[event.turn] = _new_id("item")
            await self._emit("input_audio_buffer.speech_started",
                             audio_start_ms=_ms(event.speech_start), item_id=item_id)
            self._speech_start[item_id] = event.speech_start
        elif isinstance(event, ev.SpeechStopped):
            item_id = self._turn_items.get(event.turn) or _new_id("item")
            start = self._speech_start.pop(item_id, event.speech_end)
            self._speech_seconds[item_id] = event.speech_end - start
            await self._emit("input_audio_buffer.speech_stopped",
                             audio_end_ms=_ms(event.speech_end), item_id=item_id)
            await self._user_item_committed(item_id)
        elif isinstance(event, ev.TranscriptFinal):
            item_id = self._turn_items.pop(event.turn, None)
            if item_id is None:  # a manual commit still naming its item: `_commit` sends it
                self._early_transcripts[event.turn] = event
                while len(self._early_transcripts) > 8:  # turns no commit will claim
                    del self._early_transcripts[min(self._early_transcripts)]
                return
            await self._emit(
                "conversation.item.input_audio_transcription.completed",
                item_id=item_id, content_index=0, transcript=event.text,
                usage={"type": "duration",
                       "seconds": round(self._speech_seconds.pop(item_id, 0.0), 3)},
            )
        elif isinstance(event, ev.ReplyStarted):
            await self._response_started(event)
        elif isinstance(event, ev.ReplyTextDelta):
            await self._transcript_delta(event.text)
        elif isinstance(event, ev.ReplyAudio):
            response = self._response
            if response is not None and not response.done:
                await self._audio_delta(response.audio_out.push(event.audio, event.sample_rate))
        elif isinstance(event, ev.ReplyDone):
            await self._response_finished("completed", event.text)
        elif isinstance(event, ev.ReplyCancelled):
            await self._response_cancelled(event)
        elif isinstance(event, ev.TurnDecision):
            # Not in OpenAI's protocol: a namespaced event its clients pass over.
            await self._emit("omnitalk.turn.decision", state=event.state,
                             transcript=event.text, assistant_speaking=event.assistant_speaking,
                             probabilities=event.probabilities)
        elif isinstance(event, ev.ErrorEvent):
            await self._emit("error", error={
                "type": "server_error", "code": event.code, "message": event.message,
                "param": None, "event_id": None,
            })

    async def _user_item_committed(self, item_id: str) -> None:
        await self._emit("input_audio_buffer.committed",
                         previous_item_id=self._last_item_id, item_id=item_id)
        item = {
            "id": item_id, "object": "realtime.item", "type": "message", "role": "user",
            "status": "completed", "content": [{"type": "input_audio", "transcript": None}],
        }
        await self._emit("conversation.item.created", previous_item_id=self._last_item_id,
                         item=item)
        if not self.beta:
            await self._emit("conversation.item.added", previous_item_id=self._last_item_id,
                             item=item)
        self._last_item_id = item_id

    def _names(self) -> dict[str, str]:
        if self.beta:
            return {"audio": "response.audio", "transcript": "response.audio_transcript",
                    "content": "audio"}
        return {"audio": "response.output_audio", "transcript": "response.output_audio_transcript",
                "content": "output_audio"}

    def _assistant_item(self, response: _Response, status: str, transcript: str) -> dict:
        content = [{"type": self._names()["content"], "transcript": transcript}]
        return {"id": response.item_id, "object": "realtime.item", "type": "message",
                "role": "assistant", "status": status, "content": content if transcript else []}

    def _response_object(self, response: _Response, status: str, output: list[dict],
                         details: dict | None = None) -> dict:
        body = {
            "id": response.id, "object": "realtime.response", "status": status,
            "status_details": details, "output": output,
            "usage": None if status == "in_progress" else {
                "total_tokens": 0, "input_tokens": 0, "output_tokens": 0,
            },
        }
        if self.beta:
            body["modalities"] = ["text", "audio"]
        else:
            body["output_modalities"] = ["audio"]
            body["conversation_id"] = "conv_" + self.live.id
            body["audio"] = {"output": {"format": {"type": "audio/pcm",
                                                   "rate": self.settings.output_rate},
                                        "voice": self.settings.voice}}
        return body

    async def _response_started(self, event: ev.ReplyStarted) -> None:
        response = _Response(_new_id("resp"), _new_id("item"), event.turn, self._last_item_id,
                             ReplyAudioOut(self.settings.output_rate))
        self._response = response
        ids = {"response_id": response.id, "item_id": response.item_id, "output_index": 0}
        await self._emit("response.created",
                         response=self._response_object(response, "in_progress", []))
        item = self._assistant_item(response, "in_progress", "")
        await self._emit("response.output_item.added", response_id=response.id, output_index=0,
                         item=item)
        await self._emit("conversation.item.created", previous_item_id=self._last_item_id,
                         item=item)
        if not self.beta:
            await self._emit("conversation.item.added", previous_item_id=self._last_item_id,
                             item=item)
        self._last_item_id = response.item_id
        await self._emit("response.content_part.added", **ids, content_index=0,
                         part={"type": "audio", "transcript": ""})

    async def _transcript_delta(self, text: str) -> None:
        response = self._response
        if response is None or response.done:
            return
        delta = (" " if response.transcript else "") + text
        response.transcript.append(delta)
        await self._emit(self._names()["transcript"] + ".delta", response_id=response.id,
                         item_id=response.item_id, output_index=0, content_index=0, delta=delta)

    async def _audio_delta(self, audio: np.ndarray) -> None:
        response = self._response
        if response is None or audio.size == 0:
            return
        step = max(1, int(AUDIO_DELTA_SECONDS * self.settings.output_rate))
        for start in range(0, audio.size, step):
            delta = base64.b64encode(float_to_pcm16(audio[start:start + step])).decode("ascii")
            await self._emit(self._names()["audio"] + ".delta", response_id=response.id,
                             item_id=response.item_id, output_index=0, content_index=0,
                             delta=delta)

    async def _response_finished(self, status: str, transcript: str,
                                 details: dict | None = None) -> None:
        response = self._response
        if response is None or response.done:
            return
        ids = {"response_id": response.id, "item_id": response.item_id, "output_index": 0}
        if status == "completed":
            await self._audio_delta(response.audio_out.flush())
        await self._emit(self._names()["audio"] + ".done", **ids, content_index=0)
        await self._emit(self._names()["transcript"] + ".done", **ids, content_index=0,
                         transcript=transcript)
        await self._emit("response.content_part.done", **ids, content_index=0,
                         part={"type": "audio", "transcript": transcript})
        item = self._assistant_item(
            response, "completed" if status == "completed" else "incomplete", transcript
        )
        await self._emit("response.output_item.done", response_id=response.id, output_index=0,
                         item=item)
        if not self.beta:
            await self._emit("conversation.item.done", previous_item_id=response.user_item_id,
                             item=item)
        response.done = True
        await self._emit("response.done",
                         response=self._response_object(response, status, [item], details))

    async def _response_cancelled(self, event: ev.ReplyCancelled) -> None:
        response = self._response
        if response is None or response.turn != event.turn:
            return
        if response.done:
            # Interrupted while its audio was still playing: report how much was heard.
            await self._emit("conversation.item.truncated", item_id=response.item_id,
                             content_index=0, audio_end_ms=_ms(event.played_seconds))
            return
        if event.reason == "error":
            details = {"type": "failed", "error": {"type": "server_error",
                                                    "code": "reply_failed",
                                                    "message": "the reply failed; see the error "
                                                               "event before this one"}}
            await self._response_finished("failed", event.played_text, details)
            return
        reason = "turn_detected" if event.reason == "barge-in" else "client_cancelled"
        await self._response_finished("cancelled", event.played_text,
                                      {"type": "cancelled", "reason": reason})

    # -------------------------------------------------------------------- session object

    def _session_object(self) -> dict:
        s = self.settings
        detection = None
        if s.server_vad and s.semantic_vad:
            detection = {"type": "semantic_vad", "eagerness": s.eagerness,
                         "create_response": True, "interrupt_response": s.interrupt_response}
        elif s.server_vad:
            detection = {
                "type": "server_vad", "threshold": s.threshold,
                "prefix_padding_ms": s.prefix_padding_ms,
                "silence_duration_ms": s.silence_duration_ms,
                "create_response": True, "interrupt_response": s.interrupt_response,
            }
        common = {"id": self.live.id, "object": "realtime.session",
                  "model": self.session.responder.name, "instructions": s.instructions,
                  "tools": [], "tool_choice": "auto"}
        if self.beta:
            return {
                **common, "modalities": ["text", "audio"], "voice": s.voice,
                "input_audio_format": "pcm16", "output_audio_format": "pcm16",
                "input_audio_transcription": {"model": "whisper"},
                "turn_detection": detection, "max_response_output_tokens": "inf",
            }
        return {
            **common, "type": "realtime", "output_modalities": ["audio"],
            "max_output_tokens": "inf",
            "audio": {
                "input": {"format": {"type": "audio/pcm", "rate": s.input_rate},
                          "transcription": {"model": "whisper"}, "noise_reduction": None,
                          "turn_detection": detection},
                "output": {"format": {"type": "audio/pcm", "rate": s.output_rate},
                           "voice": s.voice, "speed": 1.0},
            },
        }


# Known Realtime client events that omnitalk does not implement (distinct from typos).
_UNSUPPORTED_EVENTS = {
    "conversation.item.retrieve", "conversation.item.delete", "output_audio_buffer.clear",
    "transcription_session.update", "session.close",
}


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))
