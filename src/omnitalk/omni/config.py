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


# litgpt settings that change what the model computes, where omnitalk builds one choice only:
# key -> (litgpt's default, the value implemented). A key left out takes litgpt's default.
IMPLEMENTED_LIT_SETTINGS: dict[str, tuple[object, object]] = {
    "audio_vocab_size": (AUDIO_STRIDE, AUDIO_STRIDE),
    "bias": (True, False),
    "lm_head_bias": (False, False),
    "tie_word_embeddings": (False, True),
    "scale_embeddings": (False, False),
    "mlp_class_name": ("GptNeoxMLP", "LLaMAMLP"),
    "n_expert": (0, 0),
    "norm_class_name": ("LayerNorm", "RMSNorm"),
    "parallel_residual": (True, False),
    "shared_attention_norm": (False, False),
    "rotary_percentage": (0.25, 1),
    "rope_condense_ratio": (1, 1),
    "asr_adapter": ("llamamlp", "llamamlp"),
    "post_adapter": (False, False),
}


def _refuse_unimplemented(raw: dict, text_vocab: int, path: Path) -> None:
    """Raise, naming the key and its value, for any litgpt setting the model does not build."""
    expected = dict(IMPLEMENTED_LIT_SETTINGS)
    # Two defaults litgpt derives from other keys.
    expected["add_qkv_bias"] = (raw.get("bias", True), True)
    vocab, multiple = int(raw.get("vocab_size", 50_254)), int(raw.get("padding_multiple", 512))
    expected["padded_vocab_size"] = (-(-vocab // multiple) * multiple,
                                     text_vocab + TEXT_SPECIALS + AUDIO_LAYERS * AUDIO_STRIDE)
    for key, (default, implemented) in expected.items():
        value = raw.get(key, default)
        if value == implemented:
            continue
        given = f"{key} = {value!r}" if key in raw else \
            f"{key} is not set, and litgpt's default {value!r}"
        raise OmniConfigError(f"{path}: {given} is not supported (the Mini-Omni layout needs "
                              f"{implemented!r})")
    # litgpt's RMSNorm adds 1 to its weight when the model's name says Gemma.
    name = str(raw.get("name") or (raw.get("hf_config") or {}).get("name", ""))
    if "Gemma" in name:
        raise OmniConfigError(f"{path}: name = {name!r} is not supported (litgpt gives a Gemma "
                              "model's RMSNorm a unit offset, which this model does not add)")


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
        _refuse_unimplemented(raw, text_vocab, path)
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
