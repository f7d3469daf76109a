"""Silero VAD v6 through the silero-vad package (ONNX runtime, one thread).

One loaded model serves every session: `fork()` gives a stream with state of its own over the
same ONNX session (onnxruntime runs a session from several threads at once). Loading a model per
session cost about 1 MB of memory that was never given back, session after session.
"""

from __future__ import annotations

import copy

import numpy as np

from omnitalk.engines.base import VADConfig


class SileroVAD:
    sample_rate = 16000
    frame_size = 512  # 32 ms: the window Silero was trained on at 16 kHz

    def __init__(self, config: VADConfig | None = None) -> None:
        import torch
        from silero_vad import load_silero_vad

        threads = torch.get_num_threads()
        self._model = load_silero_vad(onnx=True)
        # Importing silero_vad pins torch to one thread for the whole process: undo that.
        torch.set_num_threads(threads)
        self._torch = torch

    def speech_probability(self, frame: np.ndarray) -> float:
        if frame.shape != (self.frame_size,):
            raise ValueError(f"Silero VAD needs frames of {self.frame_size} samples")
        return float(self._model(self._torch.from_numpy(frame), self.sample_rate).item())

    def reset(self) -> None:
        self._model.reset_states()

    def fork(self) -> SileroVAD:
        twin = copy.copy(self)
        # The package's wrapper holds the ONNX session and the stream state side by side; a
        # shallow copy shares the session, and reset_states gives the copy its own state.
        twin._model = copy.copy(self._model)
        twin._model.reset_states()
        return twin
