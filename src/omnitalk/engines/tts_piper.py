"""Piper TTS (ONNX); the packaged en_US-joe-medium voice by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from omnitalk.engines.base import EngineError, TTSConfig
from omnitalk.engines.packaged import piper_joe_paths


class PiperTTS:
    def __init__(self, config: TTSConfig | None = None) -> None:
        import json

        import onnxruntime
        from piper import PiperVoice, SynthesisConfig
        from piper.config import PiperConfig

        self.config = config or TTSConfig()
        if self.config.voice:
            model_path = Path(self.config.voice)
            config_path = Path(f"{model_path}.json")
        else:
            model_path, config_path = piper_joe_paths()
        for path in (model_path, config_path):
            if not path.is_file():
                raise EngineError(f"Piper voice file missing: {path}")
        # Our own session options: Piper's default takes every core, starving the LLM thread.
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.config.threads
        options.inter_op_num_threads = 1
        self._voice = PiperVoice(
            session=onnxruntime.InferenceSession(
                str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
            ),
            config=PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8"))),
        )
        self._synthesis = SynthesisConfig(
            length_scale=self.config.length_scale, volume=self.config.volume
        )
        self.sample_rate = self._voice.config.sample_rate

    def synthesize(self, text: str) -> Iterator[np.ndarray]:
        for chunk in self._voice.synthesize(text, syn_config=self._synthesis):
            yield chunk.audio_float_array
