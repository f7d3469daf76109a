"""Settings of the end-to-end talker, as plain dataclasses (loadable from the TOML config).

Kept free of torch so that reading a config does not load the model stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Sampling:
    """How one stream's token is drawn. temperature 0 (or top_k 1) is greedy: the reference's."""

    temperature: float = 0.0
    top_k: int = 0  # 0: no top-k cut
    top_p: float = 1.0

    def check(self) -> None:
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ValueError(f"invalid sampling settings: {self} (temperature >= 0, "
                             "0 < top_p <= 1, top_k >= 0)")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0 or self.top_k == 1


@dataclass
class DecodingOptions:
    text: Sampling = field(default_factory=Sampling)
    audio: Sampling = field(default_factory=Sampling)
    # One step is one 85.3 ms audio frame; the context (block_size) bounds it too.
    max_steps: int = 1024
    seed: int = -1  # -1: not seeded


@dataclass
class OmniPaths:
    """Where the parts are; empty means the usual place inside the checkpoint folder."""

    checkpoint: str = ""  # lit_model.pth + model_config.yaml + tokenizer.json, or an export
    whisper: str = ""  # OpenAI small.pt or a transformers Whisper folder (<checkpoint>/small.pt)
    snac: str = ""  # folder with config.json + pytorch_model.bin (<checkpoint>/snac)
    clip: str = ""  # OpenAI ViT-B-32.pt, Mini-Omni2 only (<checkpoint>/ViT-B-32.pt)
    voice_codec: str = ""  # codec = "voice": a codec folder (empty: the packaged one)
    voice: str = ""  # codec = "voice": the Piper .onnx it decodes with (empty: the packaged)


@dataclass
class OmniSettings:
    paths: OmniPaths = field(default_factory=OmniPaths)
    # fp32 is the reference numerics; bf16 and int8 weights read 2x and 4x less per step.
    precision: str = "int8"
    # int8's kernel: "auto" picks by CPU feature (omnitalk.omni.quantize.int8_kernel).
    int8_kernel: str = "auto"
    # What the talker's audio codes are: "snac" (the released models) or "voice", the codec
    # built here over the Piper voice's decoder (omnitalk.codec.voice_codec; docs/codec.md).
    codec: str = "snac"
    # Mini-Omni's streaming mode: a text-only twin writes the text that the speech follows.
    batch_parallel: bool = True
    # false: the talker answers in text (A1->T2) and the assistant's Piper voice speaks it, for
    # talkers taught to answer in text only (stage 2 of `omnitalk train`).
    speak: bool = True
    decoding: DecodingOptions = field(default_factory=DecodingOptions)
    chunk_frames: int = 4  # SNAC frames per audio chunk (4 = 341 ms)
    context_frames: int = 3  # frames decoded before each chunk, then cropped
    lookahead_frames: int = 1  # frames held back so each chunk's end has right context
    threads: int = 2
