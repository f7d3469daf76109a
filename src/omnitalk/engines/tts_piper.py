"""Piper TTS (ONNX); the packaged en_US-joe-medium voice by default."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from piper import SynthesisConfig

from omnitalk.engines.base import EngineError, TTSConfig
from omnitalk.engines.packaged import piper_joe_paths


@dataclass(frozen=True)
class VoiceStyle:
    """How one utterance is spoken: Piper's speaker and its length and noise scales."""

    speaker_id: int | None = None
    length_scale: float = 1.0
    noise_scale: float = 0.667
    noise_w_scale: float = 0.8


class PiperTTS:
    def __init__(self, config: TTSConfig | None = None) -> None:
        import json

        import onnxruntime
        from piper import PiperVoice
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
        # Our own session options: Piper's default takes every core it sees, whatever the config.
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.config.threads
        options.inter_op_num_threads = 1
        # A memory pattern is planned and kept for every input length; with text of every
        # length the kept patterns only grow, and they made synthesis no faster.
        options.enable_mem_pattern = False
        session = onnxruntime.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._voice = PiperVoice(
            session=_ArenaShrinkingSession(session),
            config=PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8"))),
        )
        self._synthesis = SynthesisConfig(
            length_scale=self.config.length_scale, volume=self.config.volume
        )
        self.sample_rate = self._voice.config.sample_rate
        self.name = model_path.name.removesuffix(".onnx")
        self.speakers = self._voice.config.num_speakers

    def synthesize(self, text: str, style: VoiceStyle | None = None) -> Iterator[np.ndarray]:
        """One chunk per sentence; `style` overrides the configured speed (dataset making)."""
        config = self._synthesis
        if style is not None:
            config = SynthesisConfig(
                speaker_id=style.speaker_id, length_scale=style.length_scale,
                noise_scale=style.noise_scale, noise_w_scale=style.noise_w_scale,
                volume=self.config.volume,
            )
        for chunk in self._voice.synthesize(text, syn_config=config):
            yield chunk.audio_float_array


class _ArenaShrinkingSession:
    """The voice's ONNX session, giving its arena's extra chunks back after every run.

    onnxruntime's CPU arena grows in doubling chunks to fit the longest sentence so far and
    keeps them: a server's memory rose in steps of 30-60 MB over its first hundred replies.
    Shrinking after each run kept it flat, for about 10 % more synthesis time (RTF 0.047 ->
    0.052 here). Piper calls `session.run` itself, so the run options are added here.
    """

    def __init__(self, session) -> None:
        import onnxruntime

        self._session = session
        self._shrink = onnxruntime.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def run(self, output_names, input_feed, run_options=None):
        return self._session.run(output_names, input_feed, run_options or self._shrink)

    def __getattr__(self, name: str):
        return getattr(self._session, name)
