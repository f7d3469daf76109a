"""OmniFlatten's flattening of a spoken dialogue into one id sequence, on SNAC frames.

OmniFlatten trains one LM in stages on layouts of the same four streams (user speech, user
text, assistant text, assistant speech); `FlatLayout.streams` says which one is meant:

- 4 streams (stage 2, half duplex), turn by turn: a user turn is [user turn] + its speech + its
  text (ASR inside the sequence), an assistant turn [assistant turn] + its text + its speech (TTS
  inside the sequence). Nothing is padded, so a position is not a moment in time.
- 3 streams (stage 3a, full duplex): user text dropped. Both channels are on one clock, SNAC
  frames of 85.3 ms, cut into chunks of `speech_chunk_frames` frames (5 frames = 427 ms, close
  to OmniFlatten's 10 tokens at 25 Hz), each written as [user speech][assistant text][assistant
  speech]:
  - user speech: the user channel's frames (speech, noise or silence: real codes);
  - assistant text: `text_chunk` text ids (2, as OmniFlatten), the assistant's words from the
    chunk where its turn starts, `silent_text` once they have run out or while it is silent;
  - assistant speech: its frames while it speaks, `silent_speech` in every slot otherwise.
- 2 streams (stage 3b): assistant text dropped too, each chunk [user speech][assistant speech].

Chunks have a fixed length, so there a position is a moment in time. One id space for every
layout, so a model goes from stage to stage with one vocabulary: text ids first, then four
special ids (silent text, silent speech, user turn, assistant turn), then SNAC codes (layer L
code c -> speech_base + 4096 L + c). `unflatten` and `unflatten_turns` invert the flattening
exactly and refuse any sequence that it cannot have written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from omnitalk.codec.snac_frames import CODES_PER_FRAME, SNAC_CODES

SILENT = -1  # in the per-stream arrays: no token here
_ROLES = ("user", "assistant")
_LAYER_SHIFT = SNAC_CODES * np.arange(CODES_PER_FRAME)  # layer L's codes start at 4096 L


@dataclass(frozen=True)
class FlatLayout:
    text_vocab: int  # the text tokenizer's size: text ids are below it
    speech_chunk_frames: int = 5
    text_chunk: int = 2
    streams: int = 3  # 4: turn by turn (half duplex); 3 or 2: chunked (full duplex)

    def __post_init__(self) -> None:
        if self.streams not in (2, 3, 4):
            raise ValueError(f"streams must be 4, 3 or 2 (OmniFlatten's layouts), "
                             f"got {self.streams}")
        if min(self.text_vocab, self.speech_chunk_frames, self.text_chunk) < 1:
            raise ValueError("text_vocab, speech_chunk_frames and text_chunk must be positive")

    @property
    def silent_text(self) -> int:
        return self.text_vocab

    @property
    def silent_speech(self) -> int:
        return self.text_vocab + 1

    @property
    def user_turn(self) -> int:
        return self.text_vocab + 2

    @property
    def assistant_turn(self) -> int:
        return self.text_vocab + 3

    @property
    def speech_base(self) -> int:
        return self.text_vocab + 4

    @property
    def vocab(self) -> int:
        return self.speech_base + CODES_PER_FRAME * SNAC_CODES

    @property
    def chunk_length(self) -> int:
        """Ids per chunk of the 3- or 2-stream layout."""
        if self.streams == 4:
            raise ValueError("the 4-stream layout goes turn by turn: it has no chunks")
        speech = 2 * self.speech_chunk_frames * CODES_PER_FRAME
        return speech + (self.text_chunk if self.streams == 3 else 0)


@dataclass(frozen=True)
class ChunkedStreams:
    """The streams of a 3- or 2-stream sequence, as `unflatten` gives them back."""
    user: np.ndarray  # [T, 7] SNAC codes or SILENT
    assistant: np.ndarray  # [T, 7] SNAC codes or SILENT
    text: np.ndarray | None  # [T / speech_chunk_frames, text_chunk] ids or SILENT; 2 streams: None


@dataclass(frozen=True)
class SpokenTurn:
    """One turn of the 4-stream layout."""
    role: str  # "user" or "assistant"
    text: np.ndarray  # [n] text ids
    speech: np.ndarray  # [T, 7] SNAC codes


def place_text(turns: list[tuple[int, list[int]]], chunks: int, layout: FlatLayout) -> np.ndarray:
    """[chunks, text_chunk] text ids: each (start chunk, ids) turn written from its start on,
    `text_chunk` per chunk, pushed later while an earlier turn's text still runs."""
    text = np.full((chunks, layout.text_chunk), SILENT, np.int64)
    cursor = 0
    for start, ids in turns:
        slot = max(start * layout.text_chunk, cursor)
        room = chunks * layout.text_chunk - slot
        ids = ids[:max(0, room)]
        text.reshape(-1)[slot:slot + len(ids)] = ids
        cursor = slot + len(ids)
    return text


def flatten(user: np.ndarray, assistant: np.ndarray, text: np.ndarray | None,
            layout: FlatLayout) -> np.ndarray:
    """user [T, 7], assistant [T, 7] codes or SILENT, text [C, text_chunk] ids or SILENT (None
    for 2 streams) -> the 3- or 2-stream id sequence of C = T // speech_chunk_frames chunks.

    Frames after the last whole chunk are left out.
    """
    if layout.streams == 4:
        raise ValueError("flatten writes the chunked layouts; a 4-stream one takes "
                         "flatten_turns")
    user, assistant = _frames(user, "user"), _frames(assistant, "assistant")
    if len(user) != len(assistant):
        raise ValueError(f"user has {len(user)} frames and assistant {len(assistant)}: "
                         f"both channels run on one clock")
    chunks = len(user) // layout.speech_chunk_frames
    frames = chunks * layout.speech_chunk_frames
    span = layout.speech_chunk_frames * CODES_PER_FRAME
    parts = [_speech_ids(user[:frames], layout).reshape(chunks, span)]
    if layout.streams == 3:
        parts.append(_text_stream(text, chunks, layout))
    elif text is not None:
        raise ValueError("a 2-stream layout has no text stream: pass text=None")
    parts.append(_speech_ids(assistant[:frames], layout).reshape(chunks, span))
    return np.concatenate(parts, axis=1).reshape(-1)


def unflatten(flat: np.ndarray, layout: FlatLayout) -> ChunkedStreams:
    """The inverse of `flatten`: a 3- or 2-stream id sequence back to its streams."""
    if layout.streams == 4:
        raise ValueError("unflatten reads the chunked layouts; a 4-stream one takes "
                         "unflatten_turns")
    flat = _sequence(flat)
    if flat.size % layout.chunk_length:
        raise ValueError(f"{flat.size} ids are not a whole number of chunks of "
                         f"{layout.chunk_length} ids")
    rows = flat.reshape(-1, layout.chunk_length)
    span = layout.speech_chunk_frames * CODES_PER_FRAME

    def speech(ids: np.ndarray, stream: str) -> np.ndarray:
        def where(k: int) -> str:
            return f"chunk {k // span}, {stream} slot {k % span}"
        return _speech_frames(ids.reshape(-1), layout, where, silent_ok=True)

    user, text = speech(rows[:, :span], "user speech"), None
    if layout.streams == 3:
        text = rows[:, span:span + layout.text_chunk]
        bad = (text != layout.silent_text) & ((text < 0) | (text >= layout.text_vocab))
        if bad.any():
            chunk, slot = map(int, np.argwhere(bad)[0])
            raise ValueError(f"chunk {chunk}, assistant text slot {slot}: id "
                             f"{int(text[chunk, slot])} is neither a text id "
                             f"(0-{layout.text_vocab - 1}) nor silent text")
        text = np.where(text == layout.silent_text, SILENT, text)
    return ChunkedStreams(user=user, assistant=speech(rows[:, -span:], "assistant speech"),
                          text=text)


def flatten_turns(turns: Sequence[SpokenTurn], layout: FlatLayout) -> np.ndarray:
    """Turns -> the 4-stream id sequence: [user turn] speech text, [assistant turn] text speech."""
    if layout.streams != 4:
        raise ValueError(f"flatten_turns writes the 4-stream layout, not {layout.streams} "
                         f"streams (those take flatten)")
    parts = []
    for index, turn in enumerate(turns):
        if turn.role not in _ROLES:
            raise ValueError(f"turn {index}: role must be 'user' or 'assistant', "
                             f"got {turn.role!r}")
        speech = _frames(turn.speech, f"turn {index} speech")
        if (speech == SILENT).any():
            raise ValueError(f"turn {index}: SILENT speech has no place in a turn-by-turn "
                             f"sequence")
        text = _text_ids(turn.text, f"turn {index}", layout)
        speech = _speech_ids(speech, layout)
        marker = layout.user_turn if turn.role == "user" else layout.assistant_turn
        parts += [np.array([marker]), *((speech, text) if turn.role == "user"
                                        else (text, speech))]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)


def unflatten_turns(flat: np.ndarray, layout: FlatLayout) -> list[SpokenTurn]:
    """The inverse of `flatten_turns`."""
    if layout.streams != 4:
        raise ValueError(f"unflatten_turns reads the 4-stream layout, not {layout.streams} "
                         f"streams (those take unflatten)")
    flat = _sequence(flat)
    markers = np.flatnonzero((flat == layout.user_turn) | (flat == layout.assistant_turn))
    if flat.size and (not markers.size or markers[0] != 0):
        raise ValueError(f"a 4-stream sequence opens with a turn marker, not id {int(flat[0])}")
    turns = []
    for index, (start, turn) in enumerate(zip(markers, np.split(flat, markers)[1:],
                                              strict=True)):
        role = "user" if turn[0] == layout.user_turn else "assistant"
        body = turn[1:]
        is_text = (body >= 0) & (body < layout.text_vocab)
        is_speech = (body >= layout.speech_base) & (body < layout.vocab)
        if not (is_text | is_speech).all():
            k = int(np.flatnonzero(~(is_text | is_speech))[0])
            raise ValueError(f"turn {index}, position {start + 1 + k}: id {int(body[k])} is "
                             f"neither text nor speech")
        first, second = ("speech", "text") if role == "user" else ("text", "speech")
        leading = is_speech if role == "user" else is_text
        count = int(np.argmin(leading)) if not leading.all() else leading.size
        if leading[count:].any():
            raise ValueError(f"turn {index}: {first} after {second}; {role} turns are "
                             f"{first} then {second}")
        speech = body[:count] if role == "user" else body[count:]
        text = body[count:] if role == "user" else body[:count]
        if speech.size % CODES_PER_FRAME:
            raise ValueError(f"turn {index}: {speech.size} speech ids are not whole frames of "
                             f"{CODES_PER_FRAME}")
        offset = start + 1 + (0 if role == "user" else count)

        def where(k: int, index: int = index, offset: int = offset) -> str:
            return f"turn {index}, position {offset + k}"
        turns.append(SpokenTurn(role, text.copy(),
                                _speech_frames(speech, layout, where, silent_ok=False)))
    return turns


def _sequence(flat: np.ndarray) -> np.ndarray:
    flat = np.asarray(flat, np.int64)
    if flat.ndim != 1:
        raise ValueError(f"a flat sequence is one-dimensional, got shape {list(flat.shape)}")
    return flat


def _frames(frames: np.ndarray, name: str) -> np.ndarray:
    frames = np.asarray(frames, np.int64)
    if frames.ndim != 2 or frames.shape[1] != CODES_PER_FRAME:
        raise ValueError(f"{name} must have shape [T, {CODES_PER_FRAME}], "
                         f"got {list(frames.shape)}")
    bad = (frames != SILENT) & ((frames < 0) | (frames >= SNAC_CODES))
    if bad.any():
        row, layer = map(int, np.argwhere(bad)[0])
        raise ValueError(f"{name} frame {row} holds {int(frames[row, layer])} in layer {layer}: "
                         f"neither a SNAC code (0-{SNAC_CODES - 1}) nor SILENT")
    return frames


def _text_ids(text: np.ndarray, name: str, layout: FlatLayout) -> np.ndarray:
    text = np.asarray(text, np.int64)
    if text.ndim != 1:
        raise ValueError(f"{name} text must be one-dimensional, got shape {list(text.shape)}")
    bad = (text < 0) | (text >= layout.text_vocab)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} text id {k} is {int(text[k])}: not below text_vocab "
                         f"{layout.text_vocab}")
    return text


def _text_stream(text: np.ndarray | None, chunks: int, layout: FlatLayout) -> np.ndarray:
    """[chunks, text_chunk] text ids or SILENT -> ids, silent text for SILENT."""
    if text is None:
        raise ValueError("a 3-stream layout needs the assistant text, [C, text_chunk] ids")
    text = np.asarray(text, np.int64)
    if text.shape != (chunks, layout.text_chunk):
        raise ValueError(f"text must have shape [{chunks}, {layout.text_chunk}] (one row per "
                         f"whole chunk of speech), got {list(text.shape)}")
    bad = (text != SILENT) & ((text < 0) | (text >= layout.text_vocab))
    if bad.any():
        chunk, slot = map(int, np.argwhere(bad)[0])
        raise ValueError(f"text of chunk {chunk}, slot {slot} is {int(text[chunk, slot])}: "
                         f"neither a text id (0-{layout.text_vocab - 1}) nor SILENT")
    return np.where(text == SILENT, layout.silent_text, text)


def _speech_ids(frames: np.ndarray, layout: FlatLayout) -> np.ndarray:
    """[T, 7] codes or SILENT -> [T * 7] ids, silent speech for SILENT."""
    ids = frames + layout.speech_base + _LAYER_SHIFT
    return np.where(frames == SILENT, layout.silent_speech, ids).reshape(-1)


def _speech_frames(ids: np.ndarray, layout: FlatLayout, where: Callable[[int], str],
                   silent_ok: bool) -> np.ndarray:
    """[T * 7] speech ids -> [T, 7] codes or SILENT; `where(k)` names id k in errors."""
    frames = ids.reshape(-1, CODES_PER_FRAME)
    codes = frames - layout.speech_base - _LAYER_SHIFT
    silent = (frames == layout.silent_speech) & silent_ok
    bad = ~silent & ((codes < 0) | (codes >= SNAC_CODES))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        allowed = " nor silent speech" if silent_ok else ""
        raise ValueError(f"{where(k)}: id {int(ids[k])} is not a layer-{k % CODES_PER_FRAME} "
                         f"SNAC code{allowed}")
    return np.where(silent, SILENT, codes)
