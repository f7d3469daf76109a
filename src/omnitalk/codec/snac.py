"""The 24 kHz SNAC codec (the `snac` package) loaded from a local folder, decoded in chunks.

`StreamingSnacDecoder` turns 7-token Mini-Omni frames into audio as they arrive
(`codec.streaming`). SNAC's decoder is non-causal: a sample depends on about 2.2 frames (4,500
samples) of codes on either side, so against a whole-utterance decode the samples sent differ
only in the `lookahead_frames`-to-2.2 frames before each chunk edge (measured in the tests).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from omnitalk.codec.snac_frames import SAMPLES_PER_FRAME, frames_to_codes
from omnitalk.codec.streaming import StreamingFrameDecoder
from omnitalk.engines.base import EngineError

CONFIG = "config.json"
WEIGHTS = "pytorch_model.bin"
# hubertsiuzdak/snac_24khz's config.json: the codec Mini-Omni speaks with.
SNAC_24KHZ = {
    "sampling_rate": 24000, "encoder_dim": 48, "encoder_rates": [2, 4, 8, 8],
    "decoder_dim": 1024, "decoder_rates": [8, 8, 4, 2], "attn_window_size": None,
    "codebook_size": 4096, "codebook_dim": 8, "vq_strides": [4, 2, 1], "noise": True,
    "depthwise": True,
}


class CodecError(EngineError):
    pass


def load_snac(folder: str | Path, dtype: torch.dtype = torch.float32):
    """A SNAC model from `config.json` + `pytorch_model.bin` (the layout of the HF release).

    Weight normalisation is folded into the weights: folding halves the decoding time here.
    """
    from snac import SNAC

    folder = Path(folder)
    for name, what in ((CONFIG, "the codec's settings"), (WEIGHTS, "the codec's weights")):
        if not (folder / name).is_file():
            raise CodecError(f"{folder}: missing {name} ({what}; e.g. from hubertsiuzdak/"
                             "snac_24khz)")
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
        model = SNAC(**config)
    except (json.JSONDecodeError, TypeError) as error:
        raise CodecError(f"{folder / CONFIG}: not a SNAC config ({error})") from None
    try:
        state = torch.load(folder / WEIGHTS, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as error:
        raise CodecError(f"{folder / WEIGHTS}: does not fit the config ({error})") from None
    return for_inference(model, dtype)


def random_snac(seed: int = 0):
    """A SNAC 24 kHz with random weights (the same for a seed everywhere): the codec the
    dataset factory and training use when no real weights are at hand."""
    from snac import SNAC

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return SNAC(**SNAC_24KHZ)


def save_snac(snac, folder: str | Path) -> Path:
    """Write a SNAC (before `for_inference`) as `config.json` + `pytorch_model.bin`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    settings = {"sampling_rate": snac.sampling_rate, "encoder_dim": snac.encoder_dim,
                "encoder_rates": list(snac.encoder_rates), "latent_dim": snac.latent_dim,
                "decoder_dim": snac.decoder_dim, "decoder_rates": list(snac.decoder_rates),
                "attn_window_size": snac.attn_window_size,
                "codebook_size": snac.codebook_size, "codebook_dim": snac.codebook_dim,
                "vq_strides": list(snac.vq_strides), "noise": SNAC_24KHZ["noise"],
                "depthwise": SNAC_24KHZ["depthwise"]}
    (folder / CONFIG).write_text(json.dumps(settings))
    torch.save(snac.state_dict(), folder / WEIGHTS)
    return folder


def for_inference(snac, dtype: torch.dtype = torch.float32):
    """Fold weight normalisation into the weights (it only matters for training) and cast."""
    from torch.nn.utils import parametrize

    for module in snac.modules():
        if parametrize.is_parametrized(module, "weight"):
            parametrize.remove_parametrizations(module, "weight")
    return snac.to(dtype).eval()


def decode_frames(snac, frames: np.ndarray) -> np.ndarray:
    """[n, 7] frames -> float32 audio (2048 samples per frame) in one call."""
    device = next(snac.parameters()).device
    codes = [torch.from_numpy(c).to(device) for c in frames_to_codes(frames)]
    with torch.inference_mode():
        audio = snac.decode(codes)
    return audio.reshape(-1).float().cpu().numpy()


class StreamingSnacDecoder(StreamingFrameDecoder):
    """SNAC frames in, 24 kHz audio chunks out (`codec.streaming`)."""

    def __init__(self, snac, chunk_frames: int = 4, context_frames: int = 3,
                 lookahead_frames: int = 1) -> None:
        super().__init__(lambda frames: decode_frames(snac, frames), int(snac.sampling_rate),
                         SAMPLES_PER_FRAME, chunk_frames, context_frames, lookahead_frames)
        self.snac = snac


class SnacSpeech:
    """SNAC as the talker's speech: its rate and a streaming decoder per answer (the voice
    codec's `VoiceSpeech` has the same two)."""

    def __init__(self, snac) -> None:
        self.snac = snac
        self.sampling_rate = int(snac.sampling_rate)

    def streaming(self, chunk_frames: int, context_frames: int,
                  lookahead_frames: int) -> StreamingSnacDecoder:
        return StreamingSnacDecoder(self.snac, chunk_frames, context_frames, lookahead_frames)
