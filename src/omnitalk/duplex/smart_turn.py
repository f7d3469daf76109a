"""Smart Turn v3.2, pipecat's open end-of-turn model, as a peer for our own turn-taking.

An audio-only classifier: the last 8 s of the turn so far (16 kHz) in, the probability that the
speaker has finished out. The ONNX file ships inside the `pipecat-ai` wheel. We find it on disk
without importing pipecat, whose import pulls in its whole dependency tree, and prepare the
audio exactly as pipecat 1.14.0 does (`pipecat/audio/turn/smart_turn/local_smart_turn_v3.py`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnitalk.engines.base import EngineError

PIPECAT_VERSION = "1.14.0"
INSTALL_COMMAND = f"pip install --no-deps pipecat-ai=={PIPECAT_VERSION}"
# Inside the `pipecat` package folder.
MODEL_FILE = Path("audio", "turn", "smart_turn", "data", "smart-turn-v3.2-cpu.onnx")
SAMPLE_RATE = 16000
WINDOW_SECONDS = 8
WINDOW_SAMPLES = WINDOW_SECONDS * SAMPLE_RATE
# Whisper's zero-mean unit-variance waveform normalisation adds this to the variance.
_VARIANCE_EPS = 1e-7


@dataclass
class SmartTurnConfig:
    # An ONNX file; empty means the one inside the installed pipecat-ai package.
    model: str = ""
    threads: int = 1
    # pipecat calls a turn complete when the probability is above 0.5.
    threshold: float = 0.5


def smart_turn_model_path() -> Path:
    spec = importlib.util.find_spec("pipecat")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError(f"Smart Turn v3.2 needs the pipecat-ai package: run `{INSTALL_COMMAND}`")
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    if not path.is_file():
        raise EngineError(
            f"the installed pipecat package has no {MODEL_FILE.name} (looked for {path}): "
            f"run `{INSTALL_COMMAND}`"
        )
    return path


class SmartTurn:
    """Stateless: each call judges the turn so far on its own, so sessions can share one."""

    sample_rate = SAMPLE_RATE

    def __init__(self, config: SmartTurnConfig | None = None) -> None:
        import onnxruntime as ort
        from faster_whisper.feature_extractor import FeatureExtractor

        self.config = config or SmartTurnConfig()
        path = Path(self.config.model) if self.config.model else smart_turn_model_path()
        if not path.is_file():
            raise EngineError(f"no Smart Turn model at {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.config.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_name = self._session.get_inputs()[0].name
        # The same log-mel as the transformers WhisperFeatureExtractor pipecat mirrors.
        self._log_mel = FeatureExtractor(feature_size=80, chunk_length=WINDOW_SECONDS)

    def features(self, audio: np.ndarray) -> np.ndarray:
        """The model's input for `audio` (float mono 16 kHz): an (80, 800) float32 log-mel."""
        window = _last_window(_checked(audio))
        # Normalised over the whole window, silence in front included, as pipecat does.
        window = (window - window.mean()) / np.sqrt(window.var() + _VARIANCE_EPS)
        # padding=0: the window is already 8 s, which gives the model's 800 frames.
        return self._log_mel(window, padding=0)

    def complete_probability(self, audio: np.ndarray) -> float:
        """Probability that the turn in `audio` (the turn so far) is over."""
        # The output is named "logits" but already holds the sigmoid's probability.
        (probability,) = self._session.run(None, {self._input_name: self.features(audio)[None]})
        return float(probability.reshape(-1)[0])

    def is_complete(self, audio: np.ndarray) -> bool:
        return self.complete_probability(audio) > self.config.threshold


def _checked(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.ndim != 1:
        raise ValueError(f"Smart Turn needs 1-D mono audio, got shape {audio.shape}")
    if audio.size == 0:
        raise ValueError("Smart Turn needs at least one sample of audio, got none")
    if not np.issubdtype(audio.dtype, np.floating):
        raise ValueError(f"Smart Turn needs float audio in [-1, 1], got {audio.dtype}")
    if not np.isfinite(audio).all():
        raise ValueError("Smart Turn audio contains NaN or infinite samples")
    return audio.astype(np.float32, copy=False)


def _last_window(audio: np.ndarray) -> np.ndarray:
    """The last 8 s; a shorter turn gets silence in front, so its end stays at the end."""
    if audio.size >= WINDOW_SAMPLES:
        return audio[-WINDOW_SAMPLES:]
    return np.pad(audio, (WINDOW_SAMPLES - audio.size, 0))
