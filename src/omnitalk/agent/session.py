"""A conversation session: audio frames in, typed events out.

Feed it 16 kHz audio as it arrives (`feed`). It detects turns with the VAD, transcribes while the
user speaks, and answers through its Responder. The session's clock is the input audio itself:
`audio_time` is how much audio has been fed, and reply audio is taken to play out at real speed
from the moment it is emitted, so "what the user heard" is known when they barge in.

A client that decides turns itself (no VAD) uses `transcribe_turn` and `respond_to_text` instead
of relying on the VAD; `end_turn` and `clear_input` let it override the VAD.

To answer quickly, the reply starts as soon as the user pauses (speculatively): the final
transcript, LLM and TTS run during the silence that decides the turn, and their events are held
back until the turn really ends. If the user goes on speaking, that work is cancelled.

A long turn is committed in pieces while the user speaks: when the user speaks again after a
pause that came `commit_s` or more into a piece, the piece up to the middle of the pause is
transcribed (with the words before it as the ASR's context) and its words are final; the
turn's final pass decodes only what came after the last piece. So the final transcript costs
about the same after a 60 s turn as after a 3 s question.

Sessions share the CPU: every ASR pass, like the responder's LLM and TTS steps, runs in the
process's scheduler (`engines/scheduler.py`) at the moment its result is needed. A reply is
needed when the turn ends (a speculative one, at the end of the silence it was started in) and,
once it plays, when its audio so far has played out; a committed piece when the turn could end.
Partial transcripts run beside the scheduler, and only while no step waits for the CPU.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from omnitalk.agent import events as ev
from omnitalk.agent.responders.base import Responder, UserTurn
from omnitalk.agent.turn_policy import TurnPolicy, VadPolicy
from omnitalk.agent.turns import Signal, TurnConfig, TurnDetector
from omnitalk.audio.frames import FrameChunker
from omnitalk.duplex.states import State
from omnitalk.engines.base import ASR, VAD, ChatMessage
from omnitalk.engines.scheduler import CPU, NOT_NEEDED

log = logging.getLogger(__name__)


@dataclass
class SessionConfig:
    turn: TurnConfig = field(default_factory=TurnConfig)
    # Audio kept from before the detected speech start, so the first syllable is not clipped.
    speech_pad_ms: int = 200
    # How often a partial transcript is made while the user speaks.
    partial_interval_ms: int = 800
    # While the user speaks, the turn so far becomes a committed piece at the first pause after
    # this much of it: its words are final, and the final pass decodes only the rest.
    commit_s: float = 2.0
    # Speech with no pause is cut into pieces of about this length anyway (at the quietest
    # frame of the piece's last seconds): partials and the final pass never cost more.
    segment_s: float = 25.0
    # User+assistant exchanges kept in the prompt.
    history_turns: int = 8


@dataclass
class TurnTimings:
    """Wall-clock milestones of one turn, in seconds from `time.perf_counter()`."""

    speech_end: float = 0.0
    turn_ended: float | None = None  # the policy took the turn as over (silence or the head)
    final_transcript: float | None = None
    first_llm_token: float | None = None
    first_audio: float | None = None
    finished: float | None = None

    def as_ms(self) -> dict[str, float | None]:
        def since(t: float | None) -> float | None:
            return None if t is None else round((t - self.speech_end) * 1000, 1)

        return {
            "end_of_speech_to_turn_end": since(self.turn_ended),
            "end_of_speech_to_final_transcript": since(self.final_transcript),
            "to_first_llm_token": since(self.first_llm_token),
            "to_first_audio": since(self.first_audio),
            "total": since(self.finished),
        }


# Where a piece of a long turn is cut: at the quietest frame of its last this many seconds.
CUT_SEARCH_S = 5.0
# A pause at least this long, once the user speaks again, may end a committed piece: shorter
# dips in the VAD's probability happen inside words.
COMMIT_PAUSE_S = 0.09
# ... and is committed once this much speech follows it.
COMMIT_AFTER_S = 0.3
# A responder that hears the user's audio (the end-to-end talker) is given at most the turn's
# last this many seconds: Whisper's window.
RESPONDER_AUDIO_S = 30.0


class ReplyInProgress(RuntimeError):
    """A new reply was asked for while the current one is still being generated."""


@dataclass
class _Reply:
    """Explicit state of one reply, from speculative start to the last played sample."""

    turn: int
    cancel: threading.Event
    timings: TurnTimings
    committed: bool = False  # the user's turn has ended: events may flow out
    held: list[ev.Event] = field(default_factory=list)
    transcript: str = ""
    clauses: list[tuple[str, int, int]] = field(default_factory=list)  # text, start, end sample
    sample_rate: int = 0
    generated: int = 0  # reply samples emitted
    played: float = 0.0  # reply samples the user has heard
    finished: bool = False  # the responder returned
    failed: bool = False
    instructions: str | None = None  # overrides the session's for this reply
    judged: bool = False  # the turn policy has decided about the pause it was started at
    # When its first audio is needed (perf_counter s): the end of the turn, or now once it ended.
    needed_at: float = 0.0


class Session:
    sample_rate = 16000

    def __init__(
        self,
        vad: VAD,
        asr: ASR,
        responder: Responder,
        config: SessionConfig | None = None,
        on_event: Callable[[ev.Event], None] | None = None,
        partial_slots: threading.Semaphore | None = None,
        name: str = "session",
        policy: TurnPolicy | None = None,
    ) -> None:
        if vad.sample_rate != self.sample_rate:
            raise ValueError(f"the VAD must run at {self.sample_rate} Hz")
        self.vad = vad
        self.asr = asr
        self.responder = responder
        self.config = config or SessionConfig()
        self.name = name  # in log lines, so that a failure can be traced to its client
        self._events: queue.Queue[ev.Event] = queue.Queue()
        self._on_event = on_event or self._events.put
        self._frame_seconds = vad.frame_size / self.sample_rate
        self._lock = threading.RLock()
        # Partials and the final pass run on separate threads, so that the final transcript
        # never queues behind a partial (the ASR engine must allow two concurrent calls).
        self._partial_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asr-partial")
        self._final_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asr-final")
        self._reply_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="reply")
        self._policy_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="turn-policy")
        # Partials are previews. Sessions that share an ASR engine share these slots, so that
        # under load a preview is skipped rather than delaying anyone's final transcript.
        self._partial_slots = partial_slots or threading.Semaphore(1)
        self.policy = policy or VadPolicy()
        self._detector = TurnDetector(self.policy.turn_config(self.config.turn),
                                      self._frame_seconds)
        self._chunker = FrameChunker(vad.frame_size)
        self.history: list[ChatMessage] = []
        # Replaces the responder's default system prompt for this session's replies.
        self.instructions: str | None = None
        self.reset()

    # ----------------------------------------------------------------------------- public API

    def reset(self) -> None:
        """Forget the conversation and any turn in progress (cancels a running reply)."""
        with self._lock:
            if getattr(self, "_reply", None) is not None:
                self._reply.cancel.set()
            self._reply: _Reply | None = None
            self.history = []
            self.timings: dict[int, TurnTimings] = {}
            self.vad.reset()
            self._detector.reset()
            self._chunker.reset()
            self._frames_fed = 0
            self._turn = 0
            pad_frames = max(1, round(self.config.speech_pad_ms / 1000 / self._frame_seconds))
            # (frame, speech probability) from before the speech started
            self._preroll: deque[tuple[np.ndarray, float]] = deque(maxlen=pad_frames)
            self._turn_audio: list[np.ndarray] = []  # the turn's current piece
            self._turn_probs: list[float] = []
            self._turn_pieces: list[Future] = []  # transcripts of the turn's earlier pieces
            # The turn's last seconds across pieces: what a responder that hears audio is given.
            self._turn_recent: deque[np.ndarray] = deque(
                maxlen=int(RESPONDER_AUDIO_S / self._frame_seconds))  # never over the window
            # Of the current piece: (samples of it heard, text).
            self._partials: list[tuple[int, str]] = []
            self._last_partial_at = 0.0
            self._last_speech_wall = 0.0
            self._unannounced: ev.SpeechStarted | None = None  # see Signal.STARTED
            self._dismissed = False  # the policy judged the open turn not worth an answer
            self._paused_from: int | None = None  # where in the piece the user's pause began
            self._commit_at: int | None = None  # the piece ends here, once speech goes on
            self._resumed_at = 0  # where that speech began
            # The policy heard the speech over a playing reply as unfinished: if the user says
            # no more, it was no turn (a backchannel the ASR garbled, a trailing-off), and the
            # reply plays on rather than being cut by the silence limit.
            self._unfinished_over_reply = False
            self._judging = 0  # pauses over a reply being judged

    def reconfigure(self, config: SessionConfig, policy: TurnPolicy | None = None) -> None:
        """Change turn-taking, padding and (if given) the turn policy mid-conversation; takes
        effect at the next frame."""
        with self._lock:
            self.config = config
            if policy is not None:
                self.policy = policy
            self._detector.config = self.policy.turn_config(config.turn)
            pad_frames = max(1, round(config.speech_pad_ms / 1000 / self._frame_seconds))
            self._preroll = deque(self._preroll, maxlen=pad_frames)

    @property
    def audio_time(self) -> float:
        return self._frames_fed * self._frame_seconds

    @property
    def is_speaking(self) -> bool:
        """A committed reply is being prepared or its audio has not finished playing."""
        with self._lock:
            return self._reply is not None and self._reply.committed

    @property
    def is_generating(self) -> bool:
        """A committed reply is still being written or synthesised."""
        with self._lock:
            return self._reply is not None and self._reply.committed and not self._reply.finished

    @property
    def is_deciding(self) -> bool:
        """The turn policy is still judging a pause (transcript and state head under way).
        A caller feeding audio faster than real time waits for this, as a listener would."""
        with self._lock:
            if not self.policy.judges_interruptions:
                return False
            reply = self._reply
            waiting = reply is not None and not reply.committed and not reply.judged \
                and not reply.cancel.is_set()
            return waiting or self._judging > 0

    @property
    def turn(self) -> int:
        """The number of the latest user turn (0 before the first)."""
        return self._turn

    @property
    def user_active(self) -> bool:
        return self._detector.active

    def feed(self, audio: np.ndarray) -> None:
        """Push 16 kHz float32 mono samples (any length) into the session."""
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError("feed() takes mono audio: a 1-D array")
        for frame in self._chunker.push(audio):
            self._process_frame(frame)

    def events(self) -> list[ev.Event]:
        """Take every event emitted so far (when no `on_event` callback was given)."""
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    def end_turn(self) -> bool:
        """End the user's turn now, as if the silence had lasted; False if no turn is open."""
        with self._lock:
            if not self._detector.end():
                return False
            self._on_signal(Signal.ENDED)
            return True

    def clear_input(self) -> None:
        """Drop the user's turn in progress (its audio and any speculative reply)."""
        with self._lock:
            if self._reply is not None and not self._reply.committed:
                self._reply.cancel.set()
                self._reply = None
            self._forget_speech()
            self._preroll.clear()

    def transcribe_turn(self, audio: np.ndarray) -> tuple[int, Future]:
        """Transcribe a user turn whose end the client decided; emits `TranscriptFinal`.

        Returns the turn number and a future of the text (None on failure). The turn is not
        answered: pass the text to `respond_to_text` when the client asks for a reply.
        """
        audio = np.asarray(audio, dtype=np.float32)
        with self._lock:
            self._turn += 1
            turn = self._turn
        return turn, self._final_pool.submit(self._transcribe_explicit, turn, audio)

    def respond_to_text(self, text: str, instructions: str | None = None) -> int:
        """Answer a user turn given as text, now; returns its turn number.

        A previous reply that has been fully generated counts as heard in full: the client has
        moved on. Raises `ReplyInProgress` while a reply is still being generated.
        `instructions` replace the session's for this reply only.
        """
        with self._lock:
            previous = self._reply
            if previous is not None:
                if not previous.committed:  # speculation on a pause: the text wins
                    previous.cancel.set()
                    self._reply = None
                elif not previous.finished:
                    raise ReplyInProgress("a reply is still being generated")
                else:
                    previous.played = float(previous.generated)
                    self._finish(previous)
            self._turn += 1
            reply = _Reply(
                self._turn, threading.Event(), TurnTimings(time.perf_counter()),
                committed=True, transcript=text, instructions=instructions,
            )
            self._reply = reply
            self.timings[reply.turn] = reply.timings
            transcript: Future = Future()
            transcript.set_result(text)
            self._reply_pool.submit(
                self._run_responder, reply, np.zeros(0, np.float32), list(self.history), transcript
            )
            return reply.turn

    def cancel_reply(self, reason: str = "cancelled") -> None:
        with self._lock:
            if self._reply is not None:
                self._cancel(self._reply, reason)

    def close(self) -> None:
        self.cancel_reply()
        self._partial_pool.shutdown(wait=True, cancel_futures=True)
        self._final_pool.shutdown(wait=True, cancel_futures=True)
        self._reply_pool.shutdown(wait=True, cancel_futures=True)
        self._policy_pool.shutdown(wait=True, cancel_futures=True)

    # ------------------------------------------------------------------------ frame handling

    def _process_frame(self, frame: np.ndarray) -> None:
        probability = self.vad.speech_probability(frame)
        self._frames_fed += 1
        now = self.audio_time
        with self._lock:
            self._advance_playback()
            if self.config.turn.barge_in_ms == 0 and self.is_speaking:
                # Half duplex: without barge-in the assistant does not listen while it speaks,
                # so its own voice from a loudspeaker cannot start a turn.
                probability = 0.0
            signals = self._detector.update(probability, now)
            if Signal.ONSET in signals:
                self._turn_audio = [f for f, _ in self._preroll]
                self._turn_probs = [p for _, p in self._preroll]
                self._turn_recent.clear()
                self._turn_recent.extend(self._turn_audio)
            if self._detector.active or Signal.ONSET in signals or Signal.ENDED in signals:
                self._turn_audio.append(frame)
                self._turn_probs.append(probability)
                self._turn_recent.append(frame)
            else:
                self._preroll.append((frame, probability))
            if self._detector.in_speech:
                self._last_speech_wall = time.perf_counter()
            for signal in signals:
                self._on_signal(signal)
            if self._detector.in_speech and self._detector.confirmed:
                self._maybe_commit_piece()
                self._maybe_cut_piece()  # not during a pause: the reply may be under way
                self._maybe_partial()

    def _drop_turn_audio(self) -> None:
        self._turn_audio, self._turn_probs, self._turn_pieces = [], [], []
        self._paused_from = self._commit_at = None
        self._turn_recent.clear()

    def _on_signal(self, signal: Signal) -> None:
        now = self.audio_time
        playing = self._reply is not None and self._reply.committed
        if signal is Signal.BARGE_IN and playing and not self.policy.judges_interruptions:
            self._cancel(self._reply, "barge-in")
        elif signal is Signal.STARTED:
            self._turn += 1
            self._partials = []
            self._unfinished_over_reply = False
            self._last_partial_at = now
            started = ev.SpeechStarted(self._turn, now, self._detector.speech_start)
            if playing and self.policy.judges_interruptions:
                # Clients stop playback on speech_started: say it only once the policy has
                # judged the speech a turn, not a backchannel under the reply.
                self._unannounced = started
            else:
                self._emit(started)
        elif signal is Signal.PAUSED:
            if playing and self.policy.judges_interruptions:
                self._judge_over_reply()  # judged whole: no piece is committed at its pauses
            else:
                self._paused_from = len(self._turn_audio) - 1  # its first silent frame
                self._commit_at = None  # the speech since the last pause was a blip
                self._start_reply()
        elif signal is Signal.RESUMED:
            self._dismissed = False  # more speech: the next pause is judged afresh
            self._unfinished_over_reply = False
            self._mark_commit_at_pause()
            if self._reply is not None and not self._reply.committed:
                self._reply.cancel.set()
                self._reply = None
        elif signal is Signal.ENDED and (self._dismissed or
                                         (self._unfinished_over_reply and playing)):
            self._forget_speech()  # the policy found nothing to answer in the whole turn
        elif signal is Signal.ENDED:
            self._announce_speech()
            self._emit(ev.SpeechStopped(self._turn, now, self._detector.speech_end))
            if self._reply is None or self._reply.committed:
                self._start_reply()  # ended by the client (end_turn) while the user spoke
            self._commit(self._reply)
            self._drop_turn_audio()
        elif signal is Signal.DISCARDED:
            self._drop_turn_audio()

    def _mark_commit_at_pause(self) -> None:
        """The user spoke again after a pause: if the piece before it is long enough, it will
        be committed, cut in the middle of the silence (a word is never split)."""
        paused_from, self._paused_from = self._paused_from, None
        if paused_from is None:
            return
        silent = len(self._turn_audio) - 1 - paused_from  # the frame that resumed is speech
        cut = paused_from + silent // 2
        if (silent * self._frame_seconds >= COMMIT_PAUSE_S
                and cut * self._frame_seconds >= self.config.commit_s):
            self._commit_at, self._resumed_at = cut, len(self._turn_audio) - 1

    def _maybe_commit_piece(self) -> None:
        """Commit the marked piece once the speech after the pause is more than a blip: were
        the turn to end sooner, one final pass over both costs less than two."""
        if self._commit_at is None:
            return
        after = len(self._turn_audio) - self._resumed_at
        if after * self._frame_seconds >= COMMIT_AFTER_S:
            self._cut_piece(self._commit_at)

    def _maybe_cut_piece(self) -> None:
        """Send the turn's audio so far for transcription once it is a piece long."""
        limit = round(self.config.segment_s / self._frame_seconds)
        if len(self._turn_audio) < limit:
            return
        search = max(1, min(round(CUT_SEARCH_S / self._frame_seconds), limit // 2))
        window = self._turn_probs[limit - search:limit][::-1]  # the latest quietest frame
        self._cut_piece(limit - int(np.argmin(window)))  # just after it

    def _cut_piece(self, cut: int) -> None:
        """Commit the turn's first `cut` frames as a piece, transcribed after the earlier ones."""
        self._commit_at = None
        piece = np.concatenate(self._turn_audio[:cut])
        self._turn_audio, self._turn_probs = self._turn_audio[cut:], self._turn_probs[cut:]
        prefix = self._stable_prefix(within=piece.size)
        self._partials = []
        earlier = list(self._turn_pieces)
        try:
            job = self._final_pool.submit(self._transcribe_piece, self._turn, piece, prefix,
                                          earlier)
        except RuntimeError:  # the session is closing
            return
        self._turn_pieces.append(job)

    def _transcribe_piece(self, turn: int, audio: np.ndarray, prefix: str,
                          earlier: list[Future]) -> str:
        try:
            # The earlier pieces went to this same one-worker pool first: they are done.
            context = _joined(*(p.result() for p in earlier))
            return self._transcribe(audio, self._turn_could_end(), "asr_piece", prefix, context)
        except Exception as error:  # the rest of the turn can still be heard and answered
            self._emit(ev.ErrorEvent(turn, self.audio_time, "asr_error",
                                     f"transcription failed: {error}"))
            return ""

    def _maybe_partial(self) -> None:
        interval = self.config.partial_interval_ms / 1000
        if self.audio_time - self._last_partial_at < interval:
            return
        if CPU.waiting or not self._turn_audio:  # a piece may have just taken all of it
            return  # a preview must not add to steps queued for the CPU: skip it under load
        if not self._partial_slots.acquire(blocking=False):
            return  # a partial is running (here or, sharing the ASR, in another session)
        self._last_partial_at = self.audio_time
        turn, audio = self._turn, np.concatenate(self._turn_audio)
        pieces = list(self._turn_pieces)
        try:
            job = self._partial_pool.submit(self._partial_transcript, turn, audio, pieces)
        except RuntimeError:  # the session is closing
            self._partial_slots.release()
            return
        # Released when the job ends or is cancelled at close: a shared slot must never leak.
        job.add_done_callback(lambda _: self._partial_slots.release())

    def _partial_transcript(self, turn: int, audio: np.ndarray, pieces: list[Future]) -> None:
        heard = [p.result() for p in pieces if p.done() and not p.cancelled()]
        try:
            # Beside the scheduler, not in it: a partial that held the CPU when the user stopped
            # would make the final pass wait for it. It is skipped when steps wait instead.
            text = self.asr.transcribe(audio, context=_joined(*heard))
        except Exception as error:  # a partial is a preview: report, keep listening
            self._emit(ev.ErrorEvent(turn, self.audio_time, "asr_error", str(error)))
            return
        with self._lock:
            paused = self._reply is not None and self._reply.turn == turn
            same_piece = turn == self._turn and pieces == self._turn_pieces
            if same_piece and self._detector.in_speech and not paused and text:
                self._partials.append((audio.size, text))
                # A preview: earlier pieces still being transcribed are left out of it.
                committed = _joined(*heard)
                self._emit(ev.TranscriptPartial(turn, self.audio_time, _joined(committed, text),
                                                committed))

    def _transcribe(self, audio: np.ndarray, deadline: float, kind: str, prefix: str = "",
                    context: str = "") -> str:
        with CPU.turn(deadline, kind):
            return self.asr.transcribe(audio, prefix=prefix, context=context)

    def _turn_could_end(self) -> float:
        """When the user's turn would end if they fell silent now."""
        return time.perf_counter() + self.config.turn.silence_ms / 1000

    def _stable_prefix(self, within: int | None = None) -> str:
        """Words two successive partials agree on, less the last one (it may still change);
        only partials that heard no more than `within` samples count (a piece cut before the
        end of what they heard must not be told words that come after it)."""
        partials = [text for heard, text in self._partials if within is None or heard <= within]
        if len(partials) < 2:
            return ""
        agreed = []
        for a, b in zip(partials[-2].split(), partials[-1].split(), strict=False):
            if a != b:
                break
            agreed.append(a)
        return " ".join(agreed[:-1])

    # ----------------------------------------------------------------------------- replies

    def _start_reply(self, transcript: str | None = None) -> None:
        """Prepare the answer to the turn so far; `transcript`: its words are known already."""
        if self._reply is not None:
            if self._reply.committed:  # the previous answer is still playing
                self._cancel(self._reply, "barge-in")
            else:
                self._reply.cancel.set()
        reply = _Reply(self._turn, threading.Event(), TurnTimings(self._last_speech_wall),
                       needed_at=self._last_speech_wall + self.config.turn.silence_ms / 1000)
        self._reply = reply
        self.timings[self._turn] = reply.timings
        tail = np.concatenate(self._turn_audio) if self._turn_audio else np.zeros(0, np.float32)
        heard = (np.concatenate(self._turn_recent) if self._turn_recent
                 else np.zeros(0, np.float32))
        prefix = self._stable_prefix()
        history = list(self.history)
        pieces = list(self._turn_pieces)
        final = self._final_pool.submit(self._final_transcript, reply, tail, prefix, pieces,
                                        transcript)
        final.add_done_callback(lambda job: self._answer_when_heard(reply, heard, history, job))

    def _answer_when_heard(self, reply: _Reply, audio: np.ndarray, history: list[ChatMessage],
                           transcript: Future) -> None:
        try:
            self._reply_pool.submit(self._run_responder, reply, audio, history, transcript)
        except RuntimeError:  # the session closed while the transcript was being made
            pass

    def _final_transcript(self, reply: _Reply, audio: np.ndarray, prefix: str,
                          pieces: list[Future], known: str | None = None) -> str | None:
        if reply.cancel.is_set() and not reply.committed:
            return None  # speculation abandoned: the user went on speaking
        try:
            if known is not None:
                text = known
            else:
                # The earlier pieces went to this same one-worker pool first: they are done.
                committed = _joined(*(p.result() for p in pieces))
                # The tail is empty when a piece was committed at this very pause.
                tail = (self._transcribe(audio, reply.needed_at, "asr_final", prefix, committed)
                        if audio.size else "")
                text = _joined(committed, tail)
        except Exception as error:
            with self._lock:
                message = f"transcription failed: {error}"
                self._emit(ev.ErrorEvent(reply.turn, self.audio_time, "asr_error", message))
                self._finish(reply)
            return None
        with self._lock:
            reply.timings.final_transcript = time.perf_counter()
            reply.transcript = text
            event = ev.TranscriptFinal(reply.turn, self.audio_time, text)
            if not reply.committed:
                if reply is self._reply:
                    reply.held.append(event)  # released when the turn ends
            else:
                # The user's words belong to the turn, not to the reply: even if they barged in
                # before this transcript was ready, they are reported and kept in history.
                self._emit(event)
                if reply is not self._reply and text:
                    self.history.append(ChatMessage("user", text))
            speculative = not reply.committed and reply is self._reply
        if speculative:
            try:  # beside the reply, which starts on this text at once, not after the decision
                self._policy_pool.submit(self._decide_at_pause, reply, text)
            except RuntimeError:  # the session is closing
                pass
        return text

    # ------------------------------------------------------------------- the policy's turns

    def _decide_at_pause(self, reply: _Reply, text: str) -> None:
        """Ask the policy about a pause whose speculative reply is being prepared."""
        decision = self._ask_policy(text, False)
        with self._lock:
            reply.judged = True
            if decision is None:
                return  # the silence timer decides
            if reply is not self._reply or reply.committed or self._detector.in_speech:
                return  # the user went on, or the timer was quicker: stale
            self._emit(ev.TurnDecision(reply.turn, self.audio_time, decision.state.name.lower(),
                                       text, False, decision.probabilities))
            if decision.state is State.RESPOND:
                self._detector.end()
                self._on_signal(Signal.ENDED)
            elif decision.state in (State.IGNORE, State.STOP):  # nothing to answer or stop
                # No answer; the turn stays open, so that words the head misjudged are not
                # lost if the user goes on. If they do not, the silence limit drops it.
                reply.cancel.set()
                self._reply = None
                self._dismissed = True

    def _judge_over_reply(self) -> None:
        """The user paused while a reply plays: is it a backchannel, a stop, a new turn?"""
        turn, playing = self._turn, self._reply
        audio = np.concatenate(self._turn_audio) if self._turn_audio else np.zeros(0, np.float32)
        try:
            self._final_pool.submit(self._judge, turn, playing, audio)
        except RuntimeError:  # the session is closing
            return
        self._judging += 1

    def _judge(self, turn: int, playing: _Reply, audio: np.ndarray) -> None:
        try:
            self._judge_speech(turn, playing, audio)
        finally:
            with self._lock:
                self._judging -= 1

    def _judge_speech(self, turn: int, playing: _Reply, audio: np.ndarray) -> None:
        try:
            # The reply may have to stop: urgent.
            text = self._transcribe(audio, time.perf_counter(), "asr_over_reply")
        except Exception as error:  # the reply keeps playing; the next pause asks again
            self._emit(ev.ErrorEvent(turn, self.audio_time, "asr_error", str(error)))
            return
        decision = self._ask_policy(text, True)
        with self._lock:
            if decision is None:
                return  # the reply plays on; the silence limit still ends the turn
            if turn != self._turn or self._reply is not playing or self._detector.in_speech:
                return  # the user went on speaking, or the reply ended meanwhile
            self._emit(ev.TurnDecision(turn, self.audio_time, decision.state.name.lower(),
                                       text, True, decision.probabilities))
            if decision.state is State.RESPOND:  # a real interruption: stop, and answer it
                self._cancel(playing, "interrupted")
                self._detector.end()
                self._announce_speech()
                self._emit(ev.SpeechStopped(turn, self.audio_time, self._detector.speech_end))
                self._start_reply(transcript=text)
                self._commit(self._reply)
                self._drop_turn_audio()
            elif decision.state is State.STOP:  # a stop command: stop, and start nothing
                self._cancel(playing, "stop")
                self._forget_speech()
            elif decision.state is State.IGNORE:  # a backchannel or a noise: it plays on
                self._forget_speech()
            else:  # listen: more may come; if it does not, the reply plays on
                self._unfinished_over_reply = True

    def _ask_policy(self, text: str, assistant_speaking: bool):
        try:
            return self.policy.decide(text, assistant_speaking)
        except Exception:  # a failing head must not take the conversation down: silence decides
            log.exception("%s: the turn policy failed on %r", self.name, text)
            return None

    def _announce_speech(self) -> None:
        if self._unannounced is not None:
            self._emit(self._unannounced)
            self._unannounced = None

    def _forget_speech(self) -> None:
        """The user's sound was no turn: drop it, and listen afresh."""
        self._unannounced = None
        self._dismissed = self._unfinished_over_reply = False
        self._detector.reset()
        self._drop_turn_audio()

    def _transcribe_explicit(self, turn: int, audio: np.ndarray) -> str | None:
        try:
            text = (self._transcribe(audio, time.perf_counter(), "asr_final") if audio.size
                    else "")
        except Exception as error:
            message = f"transcription failed: {error}"
            self._emit(ev.ErrorEvent(turn, self.audio_time, "asr_error", message))
            return None
        self._emit(ev.TranscriptFinal(turn, self.audio_time, text))
        return text

    def _run_responder(
        self, reply: _Reply, audio: np.ndarray, history: list[ChatMessage], job: Future
    ) -> None:
        text = job.result() if not job.cancelled() else None
        if text is None or reply.cancel.is_set():
            return
        if not text.strip():
            with self._lock:
                self._finish(reply)  # nothing intelligible was said: no answer
            return
        with self._lock:
            self._emit_for(reply, ev.ReplyStarted(reply.turn, self.audio_time))
        try:
            self.responder.respond(
                history, UserTurn(audio, text), _Sink(self, reply), reply.cancel,
                reply.instructions or self.instructions,
            )
        except Exception as error:  # a bug or an unforeseen engine failure ends the reply only
            log.exception("%s: the reply to turn %d failed", self.name, reply.turn)
            message = f"the reply failed: {type(error).__name__}: {error}"[:500]
            self._fail(reply, "reply_failed", message)
        with self._lock:
            reply.finished = True
            if not reply.cancel.is_set():
                reply.timings.finished = time.perf_counter()
                done = ev.ReplyDone(reply.turn, self.audio_time, self._spoken_text(reply))
                self._emit_for(reply, done)
            self._finish_if_played()

    def _emit_for(self, reply: _Reply, event: ev.Event) -> None:
        """Emit a reply's event now, hold it until the turn ends, or drop it if stale."""
        if reply is not self._reply or (reply.cancel.is_set() and not reply.failed):
            return
        if reply.committed:
            self._emit(event)
        else:
            reply.held.append(event)

    def _commit(self, reply: _Reply) -> None:
        reply.committed = True
        reply.timings.turn_ended = time.perf_counter()
        reply.needed_at = min(reply.needed_at, reply.timings.turn_ended)
        if any(isinstance(e, ev.ReplyAudio) for e in reply.held):
            reply.timings.first_audio = time.perf_counter()
        held, reply.held = reply.held, []
        for event in held:
            self._emit(dataclasses.replace(event, audio_time=self.audio_time))
        self._finish_if_played()

    def _advance_playback(self) -> None:
        """Called once per input frame: the user hears one more frame's worth of the reply."""
        reply = self._reply
        if reply is not None and reply.committed and reply.sample_rate:
            step = self._frame_seconds * reply.sample_rate
            reply.played = min(float(reply.generated), reply.played + step)
        self._finish_if_played()

    def _finish_if_played(self) -> None:
        reply = self._reply
        if reply is not None and reply.committed and reply.finished:
            if reply.played >= reply.generated:
                self._finish(reply)

    def _finish(self, reply: _Reply) -> None:
        """The reply is over: record the user turn and what was heard of the answer."""
        if reply is not self._reply:
            return
        self._reply = None
        if reply.transcript:
            self.history.append(ChatMessage("user", reply.transcript))
            heard = self._spoken_text(reply, upto=reply.played)
            if heard:
                self.history.append(ChatMessage("assistant", heard))
        del self.history[: max(0, len(self.history) - 2 * self.config.history_turns)]

    def _cancel(self, reply: _Reply, reason: str) -> None:
        reply.cancel.set()
        if reply.committed:
            heard = self._spoken_text(reply, upto=reply.played)
            self._emit(ev.ReplyCancelled(
                reply.turn, self.audio_time, reason, heard,
                round(reply.played / reply.sample_rate, 3) if reply.sample_rate else 0.0,
            ))
        self._finish(reply)

    def _spoken_text(self, reply: _Reply, upto: float | None = None) -> str:
        """The reply's spoken clauses; with `upto`, only those heard before that sample.

        A clause cut mid-way keeps the share of its words that matches the share of its audio.
        """
        words: list[str] = []
        for text, start, end in reply.clauses:
            if upto is None or (end > start and upto >= end):
                words += text.split()
            elif start < upto < end:
                clause_words = text.split()
                words += clause_words[: int(len(clause_words) * (upto - start) / (end - start))]
        return " ".join(words)

    def _emit(self, event: ev.Event) -> None:
        self._on_event(event)

    # Called by _Sink from responder threads.
    def _on_first_token(self, reply: _Reply) -> None:
        with self._lock:
            if reply.timings.first_llm_token is None:
                reply.timings.first_llm_token = time.perf_counter()

    def _on_clause(self, reply: _Reply, text: str) -> None:
        with self._lock:
            if reply is self._reply and not reply.cancel.is_set():
                reply.clauses.append((text, reply.generated, reply.generated))
                self._emit_for(reply, ev.ReplyTextDelta(reply.turn, self.audio_time, text))

    def _on_audio(self, reply: _Reply, samples: np.ndarray, sample_rate: int) -> None:
        with self._lock:
            if reply is not self._reply or reply.cancel.is_set():
                return
            reply.sample_rate = sample_rate
            reply.generated += samples.size
            if reply.clauses:
                text, start, _ = reply.clauses[-1]
                reply.clauses[-1] = (text, start, reply.generated)
            if reply.committed and reply.timings.first_audio is None:
                reply.timings.first_audio = time.perf_counter()
            self._emit_for(reply, ev.ReplyAudio(reply.turn, self.audio_time, samples, sample_rate))

    def _on_failed(self, reply: _Reply, code: str, message: str) -> None:
        log.warning("%s: the reply to turn %d failed: %s: %s", self.name, reply.turn, code, message)
        self._fail(reply, code, message)

    def _fail(self, reply: _Reply, code: str, message: str) -> None:
        reply.cancel.set()
        with self._lock:
            if reply is not self._reply:
                return
            reply.failed = True
            self._emit(ev.ErrorEvent(reply.turn, self.audio_time, code, message))
            if reply.committed:
                self._cancel(reply, "error")
            else:
                reply.held.append(ev.ReplyCancelled(reply.turn, self.audio_time, "error", "", 0.0))


def _joined(*texts: str) -> str:
    return " ".join(t for t in texts if t)


class _Sink:
    """Routes one reply's output back into its session."""

    def __init__(self, session: Session, reply: _Reply) -> None:
        self._session = session
        self._reply = reply

    def first_token(self) -> None:
        self._session._on_first_token(self._reply)

    def clause(self, text: str) -> None:
        self._session._on_clause(self._reply, text)

    def audio(self, samples: np.ndarray, sample_rate: int) -> None:
        self._session._on_audio(self._reply, samples, sample_rate)

    def failed(self, code: str, message: str) -> None:
        self._session._on_failed(self._reply, code, message)

    def deadline(self) -> float:
        """The reply's first audio is needed at `needed_at`; each second made is a second more
        before the next is needed. A cancelled reply's steps are needed by no one."""
        reply = self._reply
        if reply.cancel.is_set():
            return NOT_NEEDED
        made = reply.generated / reply.sample_rate if reply.sample_rate else 0.0
        return reply.needed_at + made
