"""Piper's waveform decoder, cut out of the installed voice when it loads, and the latents it reads.

A Piper voice is a VITS model exported to ONNX. Its last part is a HiFi-GAN decoder whose only
input is the latent z [1, 192, T], 256 samples per latent frame (86.13 frames/s at 22,050 Hz);
in en_US-joe-medium it is the tensor `/Mul_7_output_0`, read by `/dec/conv_pre/Conv`. Cut at
z, the graph is Conv / ConvTranspose / LeakyRelu / Tanh only, and deterministic: both random
nodes of the voice (the duration and prior noise) come before z. So audio made by decoding a
captured z is the voice's own audio, sample for sample (tested), and a codec that reproduces
z speaks with the voice.

The decoder is cut from the voice the user installed every time it loads: its weights are
never copied into omnitalk (the voice's licence does not clearly allow it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from omnitalk.engines.base import EngineError

LATENT = "/Mul_7_output_0"  # z, the decoder's input
LATENT_CHANNELS = 192
HOP = 256  # audio samples per latent frame


class PiperDecoderError(EngineError):
    pass


@dataclass(frozen=True)
class VoiceFiles:
    model: Path  # the .onnx
    config: Path  # its .onnx.json

    @classmethod
    def find(cls, voice: str | Path | None = None) -> VoiceFiles:
        """A Piper voice's files; None: the packaged en_US-joe-medium."""
        if voice:
            files = cls(Path(voice), Path(f"{voice}.json"))
        else:
            from omnitalk.engines.packaged import piper_joe_paths

            files = cls(*piper_joe_paths())
        for path in (files.model, files.config):
            if not path.is_file():
                raise PiperDecoderError(f"Piper voice file missing: {path}")
        return files

    def sample_rate(self) -> int:
        try:
            return int(json.loads(self.config.read_text(encoding="utf-8"))["audio"]["sample_rate"])
        except (ValueError, KeyError, TypeError) as error:
            raise PiperDecoderError(f"{self.config}: no audio.sample_rate in the voice's "
                                    f"settings ({error!r})") from None


def _load(files: VoiceFiles):
    import onnx

    try:
        model = onnx.load(str(files.model))
    except Exception as error:
        raise PiperDecoderError(f"{files.model}: not a readable ONNX model ({error})") from None
    if not any(LATENT in node.output for node in model.graph.node):
        raise PiperDecoderError(
            f"{files.model}: no tensor {LATENT!r}, the latent z that a Piper (VITS) voice's "
            "decoder reads; this voice was exported differently")
    return model


def cut_decoder(files: VoiceFiles):
    """The voice's graph from z to the waveform, as an ONNX model."""
    import onnx.utils

    model = _load(files)
    return onnx.utils.Extractor(model).extract_model([LATENT], [model.graph.output[0].name])


def weights_hash(decoder_model) -> str:
    """A short hash of the weights in a cut decoder: which voice a codec was trained on."""
    digest = hashlib.sha256()
    for tensor in sorted(decoder_model.graph.initializer, key=lambda t: t.name):
        digest.update(tensor.name.encode())
        digest.update(tensor.raw_data)
    return digest.hexdigest()[:16]


def _session(model, threads: int):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_mem_pattern = False  # every length is new: planned patterns only pile up
    return onnxruntime.InferenceSession(model.SerializeToString(), sess_options=options,
                                        providers=["CPUExecutionProvider"])


class PiperDecoder:
    """z [1, 192, T] -> float32 audio of T * 256 samples at the voice's rate."""

    def __init__(self, voice: str | Path | None = None, threads: int = 1) -> None:
        files = VoiceFiles.find(voice)
        self.name = files.model.name.removesuffix(".onnx")
        decoder = cut_decoder(files)
        self.weights_hash = weights_hash(decoder)
        self._session = _session(decoder, threads)
        self.sample_rate = files.sample_rate()
        self._input = self._session.get_inputs()[0].name

    def __call__(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float32)
        if z.ndim != 3 or z.shape[:2] != (1, LATENT_CHANNELS):
            raise PiperDecoderError(f"z must have shape [1, {LATENT_CHANNELS}, frames], "
                                    f"got {list(z.shape)}")
        return self._session.run(None, {self._input: z})[0].reshape(-1)


@dataclass(frozen=True)
class Spoken:
    """One sentence as the voice said it: its phonemes, latent and audio."""

    phonemes: str
    z: np.ndarray  # [1, 192, T] float32
    audio: np.ndarray  # [T * 256] float32


class PiperLatents:
    """The whole voice, run so that it also gives z: text in, (z, audio) per sentence out.

    `noise_scale` 0 takes the prior's mean (the codec's targets: no sampled detail to learn);
    the duration noise (`noise_w`) still varies the timing from run to run.
    """

    def __init__(self, voice: str | Path | None = None, threads: int = 1) -> None:
        import onnx
        from piper import PiperVoice
        from piper.config import PiperConfig

        files = VoiceFiles.find(voice)
        model = _load(files)
        model.graph.output.append(onnx.helper.make_tensor_value_info(
            LATENT, onnx.TensorProto.FLOAT, [1, LATENT_CHANNELS, None]))
        self._session = _session(model, threads)
        config = PiperConfig.from_dict(json.loads(files.config.read_text(encoding="utf-8")))
        self._voice = PiperVoice(session=self._session, config=config)
        self.sample_rate = config.sample_rate

    def sentences(self, text: str, noise_scale: float = 0.0, length_scale: float = 1.0,
                  noise_w: float = 0.8) -> Iterator[Spoken]:
        for phonemes in self._voice.phonemize(text):
            ids = np.array([self._voice.phonemes_to_ids(phonemes)], dtype=np.int64)
            audio, z = self._session.run(None, {
                "input": ids, "input_lengths": np.array([ids.shape[1]], dtype=np.int64),
                "scales": np.array([noise_scale, length_scale, noise_w], dtype=np.float32)})
            yield Spoken("".join(phonemes), z, audio.reshape(-1))
