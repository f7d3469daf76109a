"""Cut a stream of arbitrary-sized chunks into fixed-size frames."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class FrameChunker:
    """Buffers incoming samples and yields frames of exactly `frame_size` samples."""

    def __init__(self, frame_size: int) -> None:
        if frame_size <= 0:
            raise ValueError("frame_size must be positive")
        self.frame_size = frame_size
        self.reset()

    def reset(self) -> None:
        self._pending = np.zeros(0, dtype=np.float32)

    def push(self, samples: np.ndarray) -> Iterator[np.ndarray]:
        data = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32).ravel()])
        whole = len(data) // self.frame_size * self.frame_size
        for start in range(0, whole, self.frame_size):
            yield data[start : start + self.frame_size]
        self._pending = data[whole:]

    def flush(self) -> np.ndarray | None:
        """The leftover samples zero-padded to one frame, or None when nothing is left."""
        if self._pending.size == 0:
            return None
        frame = np.zeros(self.frame_size, dtype=np.float32)
        frame[: self._pending.size] = self._pending
        self._pending = np.zeros(0, dtype=np.float32)
        return frame
