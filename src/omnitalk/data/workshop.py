"""The models one build process uses, each loaded the first time a stage asks for it.

Every worker process has its own workshop (models are not shared across processes), with one
thread per model: the processes, not the threads, use the cores.
"""

from __future__ import annotations

import dataclasses
from functools import cached_property
from pathlib import Path

from omnitalk.data.config import DataConfig


class Workshop:
    def __init__(self, config: DataConfig, root: Path) -> None:
        self.config = config
        self.root = root  # the build folder: stage outputs are written below it
        self._voices: dict[str, object] = {}

    def voice(self, path: str):
        """A Piper voice ("" is the packaged one)."""
        if path not in self._voices:
            from omnitalk.engines.base import TTSConfig
            from omnitalk.engines.tts_piper import PiperTTS

            self._voices[path] = PiperTTS(TTSConfig(voice=path, threads=1, volume=1.0))
        return self._voices[path]

    @cached_property
    def llm(self):
        from omnitalk.engines import registry

        return registry.create("llm", dataclasses.replace(self.config.llm, threads=1))

    @cached_property
    def asr(self):
        from omnitalk.engines import registry
        from omnitalk.engines.base import ASRConfig

        language = "zh" if self.config.language == "zh" else "en"
        return registry.create("asr", ASRConfig(threads=1, language=language))

    @cached_property
    def whisper(self):
        from omnitalk.omni.whisper import CTranslate2WhisperFeatures

        return CTranslate2WhisperFeatures(self.config.tokenise.whisper, threads=1)

    @cached_property
    def snac(self):
        """The SNAC given, or a randomly initialised 24 kHz one (seed 0: the same everywhere)."""
        import torch

        from omnitalk.codec.snac import for_inference, load_snac, random_snac

        torch.set_num_threads(1)
        if self.config.tokenise.snac:
            return load_snac(self.config.tokenise.snac)
        return for_inference(random_snac(0))

    @cached_property
    def tokenizer(self):
        """A `tokenizers.Tokenizer`: the file given, or the packaged SmolLM2's."""
        from tokenizers import Tokenizer

        if self.config.tokenise.text_tokenizer:
            return Tokenizer.from_file(self.config.tokenise.text_tokenizer)
        from transformers import AutoTokenizer

        from omnitalk.engines.packaged import smollm2_gguf_path

        gguf = smollm2_gguf_path()
        return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name) \
            .backend_tokenizer

    @cached_property
    def safety(self):
        from omnitalk.data.filters import load_safety_check

        return load_safety_check(self.config.filter.safety)
