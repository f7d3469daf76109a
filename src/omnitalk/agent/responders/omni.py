"""The end-to-end talker as a conversation Responder: the user's audio in, its voice out.

The session still transcribes each turn (for the transcript events and history); the talker
answers from the audio itself. Text is reported in clauses as it decodes, and audio is sent as
soon as SNAC has decoded each chunk; or, for a talker that answers in text only, each clause
is spoken by the assistant's Piper voice. The released Mini-Omni models were trained on single turns
and take no system prompt, so history and instructions are not given to them.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from omnitalk.agent.clauses import ClauseChunker
from omnitalk.agent.responders.base import ReplySink, UserTurn
from omnitalk.engines.base import TTS, ChatMessage
from omnitalk.omni.inference import AnswerDone, AudioChunk, OmniInference, TextDelta
from omnitalk.omni.whisper import SpeechTooLong
from omnitalk.text.speech import normalise_for_speech

log = logging.getLogger(__name__)


def load(config, voice: TTS) -> OmniResponder:
    """The talker of an assistant's config (`config.omni`); `voice` speaks for it only when
    `omni.speak` is off."""
    return OmniResponder(OmniInference.load(config.omni), None if config.omni.speak else voice)


class OmniResponder:
    """`voice` set: the talker answers in text only (A1->T2) and the voice speaks each clause,
    for talkers that were taught to answer in text (stage 2 of `omnitalk train`)."""

    name = "omnitalk-omni"
    default_instructions = ""  # the released talkers take no system prompt

    def __init__(self, inference: OmniInference, voice: TTS | None = None) -> None:
        self.inference = inference
        self.voice = voice

    @property
    def sample_rate(self) -> int:
        if self.voice is not None:
            return self.voice.sample_rate
        return self.inference.speech.sampling_rate

    def warm_up(self) -> None:
        """One short answer, so that the first real turn does not pay for allocations."""
        one_second = np.zeros(16000, np.float32)
        cancel = threading.Event()
        for event in self.inference.answer(one_second, speak=self.voice is None, cancel=cancel):
            if isinstance(event, AudioChunk | TextDelta):
                cancel.set()

    def _clause(self, text: str, sink: ReplySink, cancel: threading.Event) -> None:
        sink.clause(text)
        if self.voice is None:
            return
        for samples in self.voice.synthesize(normalise_for_speech(text)):
            if cancel.is_set():
                return
            sink.audio(samples, self.voice.sample_rate)

    def respond(
        self,
        history: list[ChatMessage],
        turn: UserTurn,
        sink: ReplySink,
        cancel: threading.Event,
        instructions: str | None = None,
    ) -> None:
        speak = self.voice is None
        if turn.audio.size:
            events = self.inference.answer(turn.audio, speak=speak, cancel=cancel)
        else:  # a typed turn: the text-in task
            events = self.inference.answer_text(turn.text, speak=speak, cancel=cancel)
        chunker = ClauseChunker()
        first = True
        try:
            for event in events:
                if isinstance(event, TextDelta):
                    if first:
                        sink.first_token()
                        first = False
                    for clause in chunker.push(event.text):
                        self._clause(clause, sink, cancel)
                elif isinstance(event, AudioChunk):
                    if not cancel.is_set():
                        sink.audio(event.audio, event.sample_rate)
                elif isinstance(event, AnswerDone):
                    if event.dropped_frames:
                        log.warning("%d audio frames held special tokens and were skipped",
                                    event.dropped_frames)
            rest = chunker.flush()
            if rest.strip() and not cancel.is_set():
                self._clause(rest, sink, cancel)
        except SpeechTooLong as error:
            cancel.set()
            sink.failed("audio_too_long", str(error))
        except Exception as error:  # a model failure ends this reply, not the session
            log.exception("end-to-end answer failed")
            cancel.set()
            sink.failed("omni_error", f"the end-to-end model failed: {error}")
