"""Mini-Omni's 7-token audio frames <-> the three code tensors of the 24 kHz SNAC codec.

One frame holds SNAC's codes depth-first: [c0[k], c1[2k], c2[4k], c2[4k+1], c1[2k+1], c2[4k+2],
c2[4k+3]], i.e. 4 latent steps, 2048 samples at 24 kHz (85.33 ms).
"""

from __future__ import annotations

import numpy as np

SAMPLES_PER_FRAME = 2048
SAMPLE_RATE = 24000
SNAC_CODES = 4_096  # entries in each of SNAC 24 kHz's codebooks
# Where each SNAC code of frame k sits in the frame: (codebook, offset within the frame's run).
FRAME_ORDER = ((0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (2, 2), (2, 3))
CODES_PER_FRAME = len(FRAME_ORDER)
_CODEBOOK_WIDTHS = (1, 2, 4)  # codes per frame in codebooks 0, 1, 2 (SNAC's vq_strides 4, 2, 1)


def frames_to_codes(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[n, 7] local ids to SNAC codes [1, n], [1, 2n], [1, 4n].

    Refuses special tokens (ids >= 4096): they would index outside SNAC's codebooks.
    """
    frames = np.asarray(frames, dtype=np.int64)
    if frames.ndim != 2 or frames.shape[1] != CODES_PER_FRAME:
        raise ValueError(f"frames must have shape [n, {CODES_PER_FRAME}], "
                         f"got {list(frames.shape)}")
    bad = (frames < 0) | (frames >= SNAC_CODES)
    if bad.any():
        row, column = map(int, np.argwhere(bad)[0])
        raise ValueError(f"frame {row} holds {int(frames[row, column])} in layer {column}: "
                         f"not a SNAC code (0-{SNAC_CODES - 1})")
    count = frames.shape[0]
    codes = [np.empty((1, count * width), np.int64) for width in _CODEBOOK_WIDTHS]
    for layer, (book, offset) in enumerate(FRAME_ORDER):
        codes[book][0, offset::_CODEBOOK_WIDTHS[book]] = frames[:, layer]
    return codes[0], codes[1], codes[2]


def codes_to_frames(c0: np.ndarray, c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """SNAC codes [1, n], [1, 2n], [1, 4n] back to [n, 7] frames (for tokenising speech)."""
    c0, c1, c2 = (np.asarray(c, dtype=np.int64).reshape(-1) for c in (c0, c1, c2))
    count = c0.size
    if c1.size != 2 * count or c2.size != 4 * count:
        raise ValueError(f"code lengths must be n, 2n, 4n; got {c0.size}, {c1.size}, {c2.size}")
    books = (c0, c1, c2)
    frames = np.empty((count, CODES_PER_FRAME), np.int64)
    for layer, (book, offset) in enumerate(FRAME_ORDER):
        frames[:, layer] = books[book][offset::_CODEBOOK_WIDTHS[book]]
    return frames
