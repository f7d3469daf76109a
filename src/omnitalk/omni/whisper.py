"""Whisper encoder features, the talker's ears (Mini-Omni uses Whisper small, frozen).

Reads OpenAI's own checkpoint (`small.pt`: `dims` + `model_state_dict`, as shipped with
Mini-Omni2) or a transformers Whisper folder, and runs transformers' WhisperEncoder. As in the
reference, the encoder sees a 30 s window (Whisper's only trained input length) and its output
is trimmed to the frames the speech covers. Longer speech is refused, never cut silently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from omnitalk.engines.base import EngineError
from omnitalk.omni.layout import MAX_WHISPER_FRAMES, whisper_frames

SAMPLE_RATE = 16000
MAX_SECONDS = 30.0
# OpenAI's encoder names -> transformers' WhisperEncoder names.
_OPENAI_TO_HF = (
    (".attn.query.", ".self_attn.q_proj."),
    (".attn.key.", ".self_attn.k_proj."),
    (".attn.value.", ".self_attn.v_proj."),
    (".attn.out.", ".self_attn.out_proj."),
    (".attn_ln.", ".self_attn_layer_norm."),
    (".mlp.0.", ".fc1."),
    (".mlp.2.", ".fc2."),
    (".mlp_ln.", ".final_layer_norm."),
    ("blocks.", "layers."),
    ("ln_post.", "layer_norm."),
    ("positional_embedding", "embed_positions.weight"),
)


class WhisperLoadError(EngineError):
    pass


class SpeechTooLong(ValueError):
    """The talker hears at most 30 s per turn (the Whisper window it was trained on)."""


def _checked(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError("Whisper features need non-empty mono audio at 16 kHz")
    seconds = audio.size / SAMPLE_RATE
    if seconds > MAX_SECONDS:
        raise SpeechTooLong(f"{seconds:.1f} s of speech in one turn; the end-to-end model "
                            f"hears at most {MAX_SECONDS:.0f} s (its Whisper window)")
    return audio


def _openai_encoder(path: Path):
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        dims, state = checkpoint["dims"], checkpoint["model_state_dict"]
    except Exception as error:
        raise WhisperLoadError(f"{path}: not an OpenAI Whisper checkpoint ({error})") from None
    config = WhisperConfig(
        num_mel_bins=dims["n_mels"], d_model=dims["n_audio_state"],
        encoder_layers=dims["n_audio_layer"], encoder_attention_heads=dims["n_audio_head"],
        encoder_ffn_dim=4 * dims["n_audio_state"], max_source_positions=dims["n_audio_ctx"],
    )
    encoder_state = {}
    for key, value in state.items():
        if key.startswith("encoder."):
            key = key.removeprefix("encoder.")
            for old, new in _OPENAI_TO_HF:
                key = key.replace(old, new)
            encoder_state[key] = value
    encoder = WhisperEncoder(config)
    expected = set(encoder.state_dict())
    missing = sorted(expected - set(encoder_state))
    if missing:
        raise WhisperLoadError(f"{path}: missing encoder tensor(s) {', '.join(missing[:4])}")
    try:
        encoder.load_state_dict(encoder_state, strict=True)
    except RuntimeError as error:
        raise WhisperLoadError(f"{path}: does not fit its own dims ({error})") from None
    return encoder, config.num_mel_bins


def _hf_encoder(folder: Path):
    from transformers import WhisperModel

    try:
        model = WhisperModel.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as error:
        raise WhisperLoadError(f"{folder}: not a transformers Whisper folder ({error})") from None
    return model.get_encoder(), model.config.num_mel_bins


class WhisperFeatures:
    """16 kHz speech -> adapter-ready encoder features [frames, width]."""

    def __init__(self, encoder, n_mels: int, dtype: torch.dtype = torch.float32) -> None:
        from transformers import WhisperFeatureExtractor

        self.encoder = encoder.to(dtype).eval()
        self.dtype = dtype
        self.extractor = WhisperFeatureExtractor(feature_size=n_mels)
        self.width = encoder.config.d_model

    @classmethod
    def load(cls, path: str | Path, dtype: torch.dtype = torch.float32) -> WhisperFeatures:
        """OpenAI's `small.pt` (or any size) or a transformers Whisper model folder."""
        path = Path(path)
        if path.is_dir():
            encoder, n_mels = _hf_encoder(path)
        elif path.is_file():
            encoder, n_mels = _openai_encoder(path)
        else:
            raise WhisperLoadError(f"Whisper model not found: {path} (OpenAI small.pt or a "
                                   "transformers Whisper folder)")
        return cls(encoder, n_mels, dtype)

    def __call__(self, audio: np.ndarray) -> torch.Tensor:
        audio = _checked(audio)
        mel = self.extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt")
        with torch.inference_mode():
            encoded = self.encoder(mel["input_features"].to(self.dtype)).last_hidden_state
        frames = min(whisper_frames(audio.size), MAX_WHISPER_FRAMES)
        return encoded[0, :frames]


class CTranslate2WhisperFeatures:
    """The same features from faster-whisper's CTranslate2 encoder (default: the packaged
    Whisper tiny.en, 384 wide): what omnitalk's own talkers are trained and run on here.
    """

    def __init__(self, model_dir: str | Path = "", compute_type: str = "int8",
                 threads: int = 1) -> None:
        import ctranslate2
        from faster_whisper.feature_extractor import FeatureExtractor

        from omnitalk.engines.packaged import whisper_tiny_en_path

        path = Path(model_dir) if model_dir else whisper_tiny_en_path()
        try:
            self.model = ctranslate2.models.Whisper(str(path), device="cpu",
                                                    compute_type=compute_type,
                                                    intra_threads=threads)
        except (RuntimeError, ValueError, OSError) as error:
            raise WhisperLoadError(f"cannot load a CTranslate2 Whisper from {path}: {error}") \
                from None
        self.extractor = FeatureExtractor(feature_size=self.model.n_mels)
        self.width = int(self._encode(np.zeros(SAMPLE_RATE, np.float32)).shape[-1])

    def _encode(self, audio: np.ndarray) -> np.ndarray:
        import ctranslate2

        window = np.zeros(int(MAX_SECONDS * SAMPLE_RATE), np.float32)
        window[:audio.size] = audio
        mel = self.extractor(window, padding=0)[:, :2 * MAX_WHISPER_FRAMES]
        encoded = self.model.encode(ctranslate2.StorageView.from_array(
            np.ascontiguousarray(mel[None], dtype=np.float32)), to_cpu=True)
        return np.array(encoded)[0]

    def __call__(self, audio: np.ndarray) -> torch.Tensor:
        audio = _checked(audio)
        return torch.from_numpy(self._encode(audio)[:whisper_frames(audio.size)].copy())
