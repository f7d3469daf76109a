"""Sample-rate conversion with soxr, whole-signal and streaming."""

from __future__ import annotations

import numpy as np
import soxr


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample a float32 mono signal; returns the input unchanged when rates match."""
    if rate_in <= 0 or rate_out <= 0:
        raise ValueError(f"sample rates must be positive, got {rate_in} -> {rate_out}")
    audio = np.asarray(audio, dtype=np.float32)
    if rate_in == rate_out or audio.size == 0:
        return audio
    return soxr.resample(audio, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


class StreamResampler:
    """Resamples a stream chunk by chunk without edge artefacts between chunks."""

    def __init__(self, rate_in: int, rate_out: int) -> None:
        if rate_in <= 0 or rate_out <= 0:
            raise ValueError(f"sample rates must be positive, got {rate_in} -> {rate_out}")
        self.rate_in = rate_in
        self.rate_out = rate_out
        self.reset()

    def reset(self) -> None:
        self._stream = (
            None
            if self.rate_in == self.rate_out
            else soxr.ResampleStream(self.rate_in, self.rate_out, 1, dtype="float32")
        )

    def process(self, chunk: np.ndarray, last: bool = False) -> np.ndarray:
        chunk = np.asarray(chunk, dtype=np.float32)
        if self._stream is None:
            return chunk
        return self._stream.resample_chunk(chunk, last=last)
