"""The end-to-end talker as a conversation Responder: the user's audio in, its voice out.

The session still transcribes each turn (for the transcript events and history); the talker
answers from the audio itself. Text is reported in clauses as it decodes, and audio is sent as
soon as SNAC has decoded each chunk. The released Mini-Omni models were trained on single turns
and take no system prompt, so history and instructions are not given to them.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from omnitalk.agent.clauses import ClauseChunker
from omnitalk.agent.responder import ReplySink, UserTurn
from omnitalk.engines.base import ChatMessage
from omnitalk.omni.inference import AnswerDone, AudioChunk, OmniInference, TextDelta
from omnitalk.omni.whisper import SpeechTooLong

log = logging.getLogger(__name__)


class OmniResponder:
    def __init__(self, inference: OmniInference) -> None:
        self.inference = inference

    @property
    def sample_rate(self) -> int:
        return int(self.inference.snac.sampling_rate)

    def warm_up(self) -> None:
        """One short answer, so that the first real turn does not pay for allocations."""
        one_second = np.zeros(16000, np.float32)
        cancel = threading.Event()
        for event in self.inference.answer(one_second, cancel=cancel):
            if isinstance(event, AudioChunk):
                cancel.set()

    def respond(
        self,
        history: list[ChatMessage],
        turn: UserTurn,
        sink: ReplySink,
        cancel: threading.Event,
        instructions: str | None = None,
    ) -> None:
        if turn.audio.size:
            events = self.inference.answer(turn.audio, cancel=cancel)
        else:  # a typed turn: the text-in, speech-out task
            events = self.inference.answer_text(turn.text, cancel=cancel)
        chunker = ClauseChunker()
        first = True
        try:
            for event in events:
                if isinstance(event, TextDelta):
                    if first:
                        sink.first_token()
                        first = False
                    for clause in chunker.push(event.text):
                        sink.clause(clause)
                elif isinstance(event, AudioChunk):
                    if not cancel.is_set():
                        sink.audio(event.audio, event.sample_rate)
                elif isinstance(event, AnswerDone):
                    if event.dropped_frames:
                        log.warning("%d audio frames held special tokens and were skipped",
                                    event.dropped_frames)
            rest = chunker.flush()
            if rest.strip() and not cancel.is_set():
                sink.clause(rest)
        except SpeechTooLong as error:
            cancel.set()
            sink.failed("audio_too_long", str(error))
        except Exception as error:  # a model failure ends this reply, not the session
            log.exception("end-to-end answer failed")
            cancel.set()
            sink.failed("omni_error", f"the end-to-end model failed: {error}")
