"""A speech codec for the assistant's own voice: Piper's latent z <-> 7 codes per 92.9 ms frame.

    z [1, 192, T] at 86.13 frames/s --encoder (stride 2)--> latent at 43 Hz
    --multi-scale RVQ, strides 4 / 2 / 1--> 1 + 2 + 4 codes per 8 z-frames (SNAC's frame)
    --decoder (transposed stride 2)--> z [1, 192, T] --Piper's frozen decoder--> 22,050 Hz audio

The codes of one frame are laid out as SNAC's (`snac_frames`), so the talker, the dataset
factory and training take them as they take SNAC's. z holds little information (16 principal
components carry 99.9 % of its variance with noise_scale 0), which is why a small model
trained on this CPU can code it. The file records the voice it was trained on, by a hash of
the voice's decoder weights: a codec is refused on another voice.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from omnitalk.codec.piper_decoder import HOP, LATENT_CHANNELS
from omnitalk.codec.quantizers import MultiScaleRVQ, SimVQ, VectorQuantizer
from omnitalk.codec.snac_frames import codes_to_frames, frames_to_codes
from omnitalk.codec.streaming import StreamingFrameDecoder
from omnitalk.engines.base import EngineError

Z_PER_FRAME = 8  # z-frames in one frame of 7 codes: 2048 samples, 92.9 ms at 22,050 Hz
SAMPLES_PER_FRAME = Z_PER_FRAME * HOP
QUANTIZERS = {"simvq": SimVQ, "vq": VectorQuantizer}
CONFIG = "codec.json"
WEIGHTS = "codec.safetensors"  # fp16: half the size, and the codes come from the loaded copy
PACKAGED = Path(__file__).with_name("voices") / "en_US-joe-medium"


class VoiceCodecError(EngineError):
    pass


@dataclass
class VoiceCodecConfig:
    latent_dim: int = 32
    width: int = 256
    codebook_size: int = 4096  # SNAC's, so that the talker's audio vocabulary fits
    quantizer: str = "simvq"  # or "vq", the plain quantiser it is compared with
    voice: str = ""  # the voice's name, for messages
    voice_hash: str = ""  # `piper_decoder.weights_hash` of the voice it was trained on


def _conv(channels_in: int, channels_out: int) -> nn.Conv1d:
    return nn.Conv1d(channels_in, channels_out, 3, padding=1)


class VoiceCodec(nn.Module):
    def __init__(self, config: VoiceCodecConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or VoiceCodecConfig()
        if config.quantizer not in QUANTIZERS:
            raise VoiceCodecError(f"quantizer must be one of {', '.join(QUANTIZERS)}, "
                                  f"got {config.quantizer!r}")
        width, latent = config.width, config.latent_dim
        # z is standardised per channel with the training set's statistics.
        self.register_buffer("z_mean", torch.zeros(LATENT_CHANNELS, 1))
        self.register_buffer("z_std", torch.ones(LATENT_CHANNELS, 1))
        self.encoder = nn.Sequential(
            _conv(LATENT_CHANNELS, width), nn.GELU(),
            nn.Conv1d(width, width, 4, stride=2, padding=1), nn.GELU(),
            _conv(width, width), nn.GELU(), nn.Conv1d(width, latent, 1))
        kind = QUANTIZERS[config.quantizer]
        self.quantizer = MultiScaleRVQ([kind(latent, config.codebook_size) for _ in range(3)],
                                       strides=(4, 2, 1))
        self.decoder = nn.Sequential(
            _conv(latent, width), nn.GELU(),
            nn.ConvTranspose1d(width, width, 4, stride=2, padding=1), nn.GELU(),
            _conv(width, width), nn.GELU(), _conv(width, LATENT_CHANNELS))

    def forward(self, z: torch.Tensor):
        """z [B, 192, T] (T a multiple of 8) -> (reconstructed z, the quantiser's output)."""
        latent = self.encoder((z - self.z_mean) / self.z_std).transpose(1, 2)
        quantized = self.quantizer(latent)
        return self._from_latent(quantized.vectors), quantized

    def _from_latent(self, latent: torch.Tensor) -> torch.Tensor:
        return self.decoder(latent.transpose(1, 2)) * self.z_std + self.z_mean

    @torch.inference_mode()
    def encode(self, z: np.ndarray) -> np.ndarray:
        """z [1, 192, T] -> [ceil(T / 8), 7] frames (the end padded by repeating z's last
        frame)."""
        z = torch.as_tensor(np.asarray(z, dtype=np.float32))
        pad = -z.shape[-1] % Z_PER_FRAME
        if pad:
            z = torch.cat([z, z[..., -1:].expand(-1, -1, pad)], dim=-1)
        _, quantized = self.forward(z)
        return codes_to_frames(*(c.numpy() for c in quantized.codes))

    @torch.inference_mode()
    def decode(self, frames: np.ndarray) -> np.ndarray:
        """[n, 7] frames -> z [1, 192, 8n] float32, for `PiperDecoder`."""
        codes = [torch.from_numpy(c) for c in frames_to_codes(frames)]
        return self._from_latent(self.quantizer.decode(codes)).numpy()

    # ------------------------------------------------------------------------------ files

    def save(self, folder: str | Path) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CONFIG).write_text(json.dumps(asdict(self.config), indent=2) + "\n")
        save_file({name: tensor.detach().half().contiguous()
                   for name, tensor in self.state_dict().items()}, folder / WEIGHTS)
        return folder

    @classmethod
    def load(cls, folder: str | Path = PACKAGED,
             voice_hash_now: str | None = None) -> VoiceCodec:
        """A saved codec; with `voice_hash_now` (the installed voice's), refused if it was
        trained on another voice."""
        folder = Path(folder)
        for name in (CONFIG, WEIGHTS):
            if not (folder / name).is_file():
                raise VoiceCodecError(f"{folder}: missing {name} (train one with "
                                      "`omnitalk train codec`)")
        try:
            config = VoiceCodecConfig(**json.loads((folder / CONFIG).read_text("utf-8")))
        except (json.JSONDecodeError, TypeError) as error:
            raise VoiceCodecError(f"{folder / CONFIG}: not a voice codec config ({error})") \
                from None
        if voice_hash_now is not None and config.voice_hash != voice_hash_now:
            raise VoiceCodecError(
                f"{folder}: trained on the voice {config.voice or '?'} (decoder "
                f"{config.voice_hash or 'unknown'}), not the installed one ({voice_hash_now}): "
                "its codes would decode to another voice's noise")
        codec = cls(config)
        try:
            from safetensors.torch import load_file

            state = {name: tensor.float() for name, tensor in load_file(folder / WEIGHTS).items()}
            codec.load_state_dict(state)
        except Exception as error:
            raise VoiceCodecError(f"{folder / WEIGHTS}: does not fit {CONFIG} ({error})") \
                from None
        return codec.eval()


def streaming_decoder(codec: VoiceCodec, voice_decoder, chunk_frames: int = 4,
                      context_frames: int = 3, lookahead_frames: int = 1) -> StreamingFrameDecoder:
    """Frames in, the voice's audio out in chunks; `voice_decoder` a `PiperDecoder`."""
    return StreamingFrameDecoder(lambda frames: voice_decoder(codec.decode(frames)),
                                 voice_decoder.sample_rate, SAMPLES_PER_FRAME, chunk_frames,
                                 context_frames, lookahead_frames)


class VoiceSpeech:
    """The voice codec with the voice's own decoder, as the talker's speech (as `SnacSpeech`)."""

    def __init__(self, codec: VoiceCodec, voice_decoder) -> None:
        self.codec = codec
        self.voice_decoder = voice_decoder
        self.sampling_rate = voice_decoder.sample_rate

    @classmethod
    def load(cls, codec_folder: str = "", voice: str = "", threads: int = 1) -> VoiceSpeech:
        """`codec_folder` empty: the packaged codec; `voice` empty: the packaged voice. The
        codec is refused if it was trained on another voice."""
        from omnitalk.codec.piper_decoder import PiperDecoder

        decoder = PiperDecoder(voice or None, threads)
        return cls(VoiceCodec.load(codec_folder or PACKAGED, decoder.weights_hash), decoder)

    def streaming(self, chunk_frames: int, context_frames: int,
                  lookahead_frames: int) -> StreamingFrameDecoder:
        return streaming_decoder(self.codec, self.voice_decoder, chunk_frames, context_frames,
                                 lookahead_frames)
