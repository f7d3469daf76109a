"""Codec frames in, audio chunks out, as they arrive, without clicks at the chunk edges.

A codec's decoder is non-causal: a sample depends on frames on either side (SNAC 24 kHz: about
2.2 frames each way). Decoding each chunk alone, as Mini-Omni's reference does, decodes every
chunk edge without its neighbours. Here each chunk is decoded with `context_frames` of the
frames before it (then cropped), and the last `lookahead_frames` of what has arrived are held
back until the next chunk, so that the samples sent have most of their right context too.
`flush()` decodes the tail at the end of the answer: nothing is dropped.

Against a whole-utterance decode, the samples sent differ only just before each chunk edge,
where the right context was cut (measured by `bench omni` for SNAC, `eval codec` for the voice
codec).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from omnitalk.codec.snac_frames import CODES_PER_FRAME


class StreamingFrameDecoder:
    """`decode`: [n, 7] frames -> float32 audio of n * `samples_per_frame` samples.

    Explicit state; `reset()` between answers.
    """

    def __init__(self, decode: Callable[[np.ndarray], np.ndarray], sample_rate: int,
                 samples_per_frame: int, chunk_frames: int = 4, context_frames: int = 3,
                 lookahead_frames: int = 1) -> None:
        if chunk_frames < 1 or context_frames < 0 or lookahead_frames < 0:
            raise ValueError("chunk_frames must be >= 1, context and lookahead >= 0")
        self._decode_frames = decode
        self.sample_rate = sample_rate
        self.samples_per_frame = samples_per_frame
        self.chunk_frames = chunk_frames
        self.context_frames = context_frames
        self.lookahead_frames = lookahead_frames
        self.reset()

    def reset(self) -> None:
        self._frames: list[np.ndarray] = []
        self._sent = 0  # frames whose audio has been returned

    def push(self, frame: np.ndarray) -> np.ndarray | None:
        """Add one [7] frame; return the next chunk of audio once one is ready."""
        self._frames.append(np.asarray(frame, dtype=np.int64).reshape(CODES_PER_FRAME))
        if len(self._frames) - self._sent < self.chunk_frames + self.lookahead_frames:
            return None
        return self._decode(self._sent + self.chunk_frames, len(self._frames))

    def flush(self) -> np.ndarray | None:
        """The audio of every frame not yet returned (the end of the answer)."""
        if self._sent == len(self._frames):
            return None
        return self._decode(len(self._frames), len(self._frames))

    def _decode(self, until: int, window_end: int) -> np.ndarray:
        start = max(0, self._sent - self.context_frames)
        audio = self._decode_frames(np.stack(self._frames[start:window_end]))
        step = self.samples_per_frame
        chunk = audio[(self._sent - start) * step:(until - start) * step]
        self._sent = until
        # Only the context of the next chunk needs keeping.
        drop = max(0, self._sent - self.context_frames)
        if drop:
            del self._frames[:drop]
            self._sent -= drop
        return chunk
