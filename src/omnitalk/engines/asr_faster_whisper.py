"""Whisper through faster-whisper (CTranslate2); the packaged tiny.en by default."""

from __future__ import annotations

import numpy as np

from omnitalk.engines.base import ASRConfig, EngineError
from omnitalk.engines.packaged import whisper_tiny_en_path


class FasterWhisperASR:
    sample_rate = 16000

    def __init__(self, config: ASRConfig | None = None) -> None:
        from faster_whisper import WhisperModel

        self.config = config or ASRConfig()
        path = self.config.model or str(whisper_tiny_en_path())
        try:
            self._model = WhisperModel(
                path,
                device="cpu",
                compute_type=self.config.compute_type,
                cpu_threads=self.config.threads,
                # Two workers: a session's final pass must not wait for a running partial.
                num_workers=2,
            )
        except (RuntimeError, ValueError, OSError) as error:
            raise EngineError(f"cannot load Whisper model from {path}: {error}") from None

    def transcribe(self, audio: np.ndarray, prefix: str = "") -> str:
        if audio.size == 0:
            return ""
        segments, _ = self._model.transcribe(
            np.asarray(audio, dtype=np.float32),
            language=self.config.language or None,
            beam_size=self.config.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            prefix=prefix or None,
        )
        return " ".join(segment.text.strip() for segment in segments).strip()
