"""The shape of a Mini-Omni model, read from the released `model_config.yaml` or given directly.

The released checkpoints are litgpt ports of Qwen2-0.5B; only the settings that the released
models use are supported, and a config that asks for anything else is refused by name rather
than loaded into a model that would compute something different.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml

from omnitalk.engines.base import EngineError
from omnitalk.omni.layout import AUDIO_LAYERS, AUDIO_STRIDE, TEXT_SPECIALS, Vocab


class OmniConfigError(EngineError):
    pass


@dataclass(frozen=True)
class OmniConfig:
    n_layer: int = 24
    n_embd: int = 896
    n_head: int = 14
    n_query_groups: int = 2
    head_size: int = 64
    intermediate_size: int = 4864
    norm_eps: float = 1e-6
    rope_base: float = 1_000_000.0
    block_size: int = 2048
    whisper_adapter_dim: int = 768  # Whisper small's encoder width
    vision_adapter_dim: int | None = None  # 512 (CLIP ViT-B/32) for Mini-Omni2
    text_vocab: int = 151_936  # the backbone's padded text vocabulary (Qwen2's)
    # Another decoder than Mini-Omni's Qwen2 (a talker made by `omnitalk train`): its
    # transformers config as a dict. The Qwen2 fields above then describe nothing.
    backbone: dict | None = None
    # Which encoder makes the input features: "" is Whisper from OpenAI's small.pt or a
    # transformers folder (Mini-Omni); "ctranslate2:PATH" is a CTranslate2 Whisper, with an
    # empty PATH meaning the packaged tiny.en (omnitalk's own talkers).
    audio_encoder: str = ""

    @property
    def vocab(self) -> Vocab:
        return Vocab(self.text_vocab)

    @property
    def vocab_size(self) -> int:
        return self.vocab.size

    def backbone_config(self):
        """The decoder's transformers config: the one given, or Mini-Omni's Qwen2 as a
        transformers Qwen2 (same RoPE, norm, QKV bias and MLP)."""
        from transformers import AutoConfig, Qwen2Config

        if self.backbone is not None:
            settings = dict(self.backbone)
            return AutoConfig.for_model(settings.pop("model_type"), **settings)
        return Qwen2Config(
            vocab_size=self.vocab_size,
            hidden_size=self.n_embd,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.n_layer,
            num_attention_heads=self.n_head,
            num_key_value_heads=self.n_query_groups,
            head_dim=self.head_size,
            rms_norm_eps=self.norm_eps,
            rope_theta=self.rope_base,
            max_position_embeddings=self.block_size,
            tie_word_embeddings=True,
            use_sliding_window=False,
            hidden_act="silu",
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> OmniConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise OmniConfigError(f"unknown model settings: {', '.join(unknown)}")
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path) -> OmniConfig:
        """Read litgpt's `model_config.yaml` as released with mini-omni and mini-omni2."""
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise OmniConfigError(f"missing {path.name} in {path.parent}") from None
        except yaml.YAMLError as error:
            raise OmniConfigError(f"{path}: not valid YAML ({error})") from None
        if not isinstance(raw, dict):
            raise OmniConfigError(f"{path}: expected a mapping of settings")
        try:
            text_vocab = int(raw["text_vocab_size"]) - TEXT_SPECIALS
        except (KeyError, TypeError, ValueError):
            raise OmniConfigError(f"{path}: missing setting text_vocab_size") from None
        required = {
            "padded_vocab_size": text_vocab + TEXT_SPECIALS + AUDIO_LAYERS * AUDIO_STRIDE,
            "audio_vocab_size": AUDIO_STRIDE, "add_qkv_bias": True, "bias": False,
            "mlp_class_name": "LLaMAMLP", "norm_class_name": "RMSNorm",
            "parallel_residual": False, "rotary_percentage": 1, "post_adapter": False,
        }
        for key, expected in required.items():
            if key in raw and raw[key] != expected:
                raise OmniConfigError(
                    f"{path}: {key} = {raw[key]!r} is not supported (the Mini-Omni layout "
                    f"needs {expected!r})"
                )
        if raw.get("asr_adapter", "llamamlp") != "llamamlp":
            raise OmniConfigError(f"{path}: asr_adapter {raw['asr_adapter']!r} is not supported")
        try:
            n_head = int(raw["n_head"])
            return cls(
                n_layer=int(raw["n_layer"]),
                n_embd=int(raw["n_embd"]),
                n_head=n_head,
                n_query_groups=int(raw.get("n_query_groups", n_head)),
                head_size=int(raw.get("head_size", int(raw["n_embd"]) // n_head)),
                intermediate_size=int(raw["intermediate_size"]),
                norm_eps=float(raw.get("norm_eps", 1e-5)),
                rope_base=float(raw.get("rope_base", 10000)),
                block_size=int(raw.get("block_size", 2048)),
                whisper_adapter_dim=int(raw.get("whisper_adapter_dim", 768)),
                vision_adapter_dim=(int(raw["vision_adapter_dim"])
                                    if raw.get("vision_adapter_dim") else None),
                text_vocab=text_vocab,
            )
        except KeyError as error:
            raise OmniConfigError(f"{path}: missing setting {error.args[0]}") from None
