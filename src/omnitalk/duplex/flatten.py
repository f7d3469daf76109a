"""OmniFlatten's 3-stream flattening, on SNAC frames.

Both channels are on one clock: SNAC frames of 85.3 ms. Time is cut into chunks of
`speech_chunk_frames` frames (5 frames = 427 ms, close to OmniFlatten's 10 tokens at 25 Hz),
and each chunk is written as [user speech][assistant text][assistant speech]:

- user speech: the user channel's frames, always real codes (speech, noise or silence);
- assistant text: `text_chunk` text ids (2, as OmniFlatten), the assistant's words from the
  chunk where its turn starts, `silent_text` once they have run out or while it is silent;
- assistant speech: its frames while it speaks, `silent_speech` in every slot otherwise.

Chunks have a fixed length, so a position is a moment in time. One id space: text ids first,
then the two silent ids, then SNAC codes (layer L code c -> speech_base + 4096 L + c).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omnitalk.codec.snac_frames import CODES_PER_FRAME, SNAC_CODES

SILENT = -1  # in the per-stream arrays: no token here


@dataclass(frozen=True)
class FlatLayout:
    text_vocab: int  # the text tokenizer's size: text ids are below it
    speech_chunk_frames: int = 5
    text_chunk: int = 2

    @property
    def silent_text(self) -> int:
        return self.text_vocab

    @property
    def silent_speech(self) -> int:
        return self.text_vocab + 1

    @property
    def speech_base(self) -> int:
        return self.text_vocab + 2

    @property
    def vocab(self) -> int:
        return self.speech_base + CODES_PER_FRAME * SNAC_CODES

    @property
    def chunk_length(self) -> int:
        return 2 * self.speech_chunk_frames * CODES_PER_FRAME + self.text_chunk


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


def flatten(user: np.ndarray, assistant: np.ndarray, text: np.ndarray,
            layout: FlatLayout) -> np.ndarray:
    """user [T, 7] codes, assistant [T, 7] codes or SILENT rows, text [C, text_chunk] -> ids.

    T is cut to whole chunks: C = T // speech_chunk_frames.
    """
    per = layout.speech_chunk_frames
    chunks = min(len(user) // per, len(text))
    shift = layout.speech_base + SNAC_CODES * np.arange(CODES_PER_FRAME)

    def speech(frames: np.ndarray) -> np.ndarray:
        ids = frames + shift
        return np.where(frames == SILENT, layout.silent_speech, ids).reshape(-1)

    out = []
    for chunk in range(chunks):
        span = slice(chunk * per, (chunk + 1) * per)
        out += [speech(user[span]),
                np.where(text[chunk] == SILENT, layout.silent_text, text[chunk]),
                speech(assistant[span])]
    return np.concatenate(out) if out else np.zeros(0, np.int64)
