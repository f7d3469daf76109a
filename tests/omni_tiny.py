"""Tiny checkpoints in the exact released formats, for running the real loaders on.

- `write_lit_checkpoint`: Mini-Omni's folder: a flat fp32 litgpt state dict in `lit_model.pth`
  (group-interleaved fused QKV, lm_head stored beside the tied embedding), litgpt's
  `model_config.yaml`, and a byte-level BPE `tokenizer.json` (Qwen2's kind: no BOS).
- `write_openai_whisper`: OpenAI's Whisper checkpoint (`dims` + `model_state_dict`).
- `write_snac`: SNAC's `config.json` + `pytorch_model.bin`, at a small width.
- `write_openai_clip`: a TorchScript archive with OpenAI CLIP's parameter names.

Dimensions are small; the vocabulary keeps its released width (181,120), because the special
token ids are absolute.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from torch import nn

from omnitalk.omni.layout import MINI_OMNI

TINY = {
    "n_layer": 2, "n_embd": 64, "n_head": 4, "n_query_groups": 2, "head_size": 16,
    "intermediate_size": 96, "whisper_adapter_dim": 32,
}
CORPUS = [
    "what is the capital of france", "the capital of france is paris",
    "hello how are you today", "i am fine thank you", "tell me a short story about a cat",
    "the quick brown fox jumps over the lazy dog", "one two three four five six seven",
]


def lit_config(vision: bool = False, **overrides) -> dict:
    """A model_config.yaml as released, with tiny dimensions."""
    config = {
        "name": "Qwen2-0.5B", "hf_config": {"name": "Qwen2-0.5B", "org": "Qwen"},
        "block_size": 2048, "vocab_size": 50254, "padding_multiple": 512,
        "padded_vocab_size": MINI_OMNI.size, "text_vocab_size": 152000, "audio_vocab_size": 4160,
        "cat_audio_vocab_size": 29120, "bias": False, "add_qkv_bias": True,
        "lm_head_bias": False, "norm_class_name": "RMSNorm", "norm_eps": 1e-6,
        "mlp_class_name": "LLaMAMLP", "parallel_residual": False,
        "shared_attention_norm": False, "rotary_percentage": 1, "rope_base": 1000000,
        "rope_condense_ratio": 1, "pos_type": "rope", "tie_word_embeddings": True,
        "scale_embeddings": False, "asr_adapter": "llamamlp", "post_adapter": False,
        "post_adapter_layers": 6, "n_expert": 0, "n_expert_per_token": 0,
        **TINY,
    }
    if vision:
        config["vision_adapter_dim"] = 64
    config.update(overrides)
    return config


def lit_state(config: dict, seed: int = 0, scale: float = 0.2) -> dict[str, torch.Tensor]:
    """Random tensors with the released names and shapes for `config`."""
    g = torch.Generator().manual_seed(seed)
    c = config

    def rand(*shape):
        return torch.randn(*shape, generator=g) * scale

    qkv = (c["n_head"] + 2 * c["n_query_groups"]) * c["head_size"]
    state = {}
    adapters = [("whisper_adapter", c["whisper_adapter_dim"])]
    if c.get("vision_adapter_dim"):
        adapters.append(("vision_adapter", c["vision_adapter_dim"]))
    for name, dim in adapters:
        state[f"{name}.fc_1.weight"] = rand(c["intermediate_size"], dim)
        state[f"{name}.fc_2.weight"] = rand(c["intermediate_size"], dim)
        state[f"{name}.proj.weight"] = rand(c["n_embd"], c["intermediate_size"])
    wte = rand(MINI_OMNI.size, c["n_embd"])
    state["lm_head.weight"] = wte.clone()  # stored twice, as in the release
    state["transformer.wte.weight"] = wte
    for i in range(c["n_layer"]):
        block = f"transformer.h.{i}"
        state[f"{block}.norm_1.weight"] = 1 + rand(c["n_embd"])
        state[f"{block}.attn.attn.weight"] = rand(qkv, c["n_embd"])
        state[f"{block}.attn.attn.bias"] = rand(qkv)
        state[f"{block}.attn.proj.weight"] = rand(c["n_embd"], c["n_head"] * c["head_size"])
        state[f"{block}.norm_2.weight"] = 1 + rand(c["n_embd"])
        state[f"{block}.mlp.fc_1.weight"] = rand(c["intermediate_size"], c["n_embd"])
        state[f"{block}.mlp.fc_2.weight"] = rand(c["intermediate_size"], c["n_embd"])
        state[f"{block}.mlp.proj.weight"] = rand(c["n_embd"], c["intermediate_size"])
    state["transformer.ln_f.weight"] = 1 + rand(c["n_embd"])
    return state


def write_tokenizer(path: Path) -> None:
    """A byte-level BPE tokenizer (Qwen2's kind) trained on a few sentences."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(CORPUS, trainer)
    tokenizer.save(str(path))


def write_lit_checkpoint(folder: Path, config: dict | None = None,
                         state: dict[str, torch.Tensor] | None = None) -> dict:
    """Write lit_model.pth, model_config.yaml and tokenizer.json; return the state written."""
    folder.mkdir(parents=True, exist_ok=True)
    config = config or lit_config()
    state = state if state is not None else lit_state(config)
    torch.save(state, folder / "lit_model.pth")
    (folder / "model_config.yaml").write_text(yaml.safe_dump(config))
    write_tokenizer(folder / "tokenizer.json")
    (folder / "tokenizer_config.json").write_text(json.dumps({"add_bos_token": False}))
    return state


WHISPER_DIMS = {"n_mels": 80, "n_audio_ctx": 1500, "n_audio_state": 32, "n_audio_head": 2,
                "n_audio_layer": 1, "n_vocab": 51865, "n_text_ctx": 448, "n_text_state": 32,
                "n_text_head": 2, "n_text_layer": 1}


def sinusoids(length: int, channels: int) -> torch.Tensor:
    """Whisper's fixed positional embedding."""
    increment = torch.log(torch.tensor(10000.0)) / (channels // 2 - 1)
    inv = torch.exp(-increment * torch.arange(channels // 2))
    angles = torch.arange(length)[:, None] * inv[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def write_openai_whisper(path: Path, seed: int = 0) -> dict[str, torch.Tensor]:
    """An OpenAI-format Whisper checkpoint (encoder and a token decoder stub's first keys)."""
    g = torch.Generator().manual_seed(seed)
    d = WHISPER_DIMS
    width, mels = d["n_audio_state"], d["n_mels"]

    def rand(*shape, scale=0.1):
        return torch.randn(*shape, generator=g) * scale

    state = {
        "encoder.conv1.weight": rand(width, mels, 3), "encoder.conv1.bias": rand(width),
        "encoder.conv2.weight": rand(width, width, 3), "encoder.conv2.bias": rand(width),
        "encoder.positional_embedding": sinusoids(d["n_audio_ctx"], width),
        "encoder.ln_post.weight": 1 + rand(width), "encoder.ln_post.bias": rand(width),
        "decoder.token_embedding.weight": rand(d["n_vocab"], width),
    }
    for i in range(d["n_audio_layer"]):
        block = f"encoder.blocks.{i}"
        for part in ("query", "value", "out"):
            state[f"{block}.attn.{part}.weight"] = rand(width, width)
            state[f"{block}.attn.{part}.bias"] = rand(width)
        state[f"{block}.attn.key.weight"] = rand(width, width)
        for norm in ("attn_ln", "mlp_ln"):
            state[f"{block}.{norm}.weight"] = 1 + rand(width)
            state[f"{block}.{norm}.bias"] = rand(width)
        state[f"{block}.mlp.0.weight"] = rand(4 * width, width)
        state[f"{block}.mlp.0.bias"] = rand(4 * width)
        state[f"{block}.mlp.2.weight"] = rand(width, 4 * width)
        state[f"{block}.mlp.2.bias"] = rand(width)
    torch.save({"dims": dict(d), "model_state_dict": state}, path)
    return state


SNAC_TINY = {"sampling_rate": 24000, "encoder_dim": 8, "encoder_rates": [2, 4, 8, 8],
             "decoder_dim": 64, "decoder_rates": [8, 8, 4, 2], "attn_window_size": None,
             "codebook_size": 4096, "codebook_dim": 8, "vq_strides": [4, 2, 1], "noise": True,
             "depthwise": True}


def write_snac(folder: Path, seed: int = 0, silent_noise: bool = True):
    """A SNAC folder; `silent_noise` zeroes the noise blocks so that decoding is repeatable."""
    from snac import SNAC
    from snac.layers import NoiseBlock

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = SNAC(**SNAC_TINY)
    if silent_noise:
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, NoiseBlock):  # weight norm: zero gain, zero weight
                    module.linear.parametrizations.weight.original0.zero_()
    (folder / "config.json").write_text(json.dumps(SNAC_TINY))
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    return model


class _ClipBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(width, width // 64)
        self.ln_1 = nn.LayerNorm(width)
        self.mlp = nn.ModuleDict({"c_fc": nn.Linear(width, 4 * width),
                                  "c_proj": nn.Linear(4 * width, width)})
        self.ln_2 = nn.LayerNorm(width)


class _ClipVisual(nn.Module):
    def __init__(self, width: int, layers: int, patch: int, grid: int, out: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.randn(width) * 0.1)
        self.positional_embedding = nn.Parameter(torch.randn(grid * grid + 1, width) * 0.1)
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = nn.Module()
        self.transformer.resblocks = nn.Sequential(*[_ClipBlock(width) for _ in range(layers)])
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.randn(width, out) * 0.1)


class _Clip(nn.Module):
    def __init__(self, **dims) -> None:
        super().__init__()
        self.visual = _ClipVisual(**dims)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.visual.conv1(image)


def write_openai_clip(path: Path, seed: int = 0, width: int = 64, layers: int = 1,
                      patch: int = 32, grid: int = 7, out: int = 64) -> dict[str, torch.Tensor]:
    """A TorchScript archive holding OpenAI CLIP's visual parameter names (ViT-B-32.pt's kind)."""
    torch.manual_seed(seed)
    model = _Clip(width=width, layers=layers, patch=patch, grid=grid, out=out)
    scripted = torch.jit.trace(model, torch.zeros(1, 3, patch * grid, patch * grid))
    scripted.save(str(path))
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def write_omni_folder(folder: Path, vision: bool = False) -> Path:
    """Everything `--checkpoint` reads: the talker, small.pt and snac/ (and ViT-B-32.pt)."""
    write_lit_checkpoint(folder, lit_config(vision=vision))
    write_openai_whisper(folder / "small.pt")
    write_snac(folder / "snac")
    if vision:
        write_openai_clip(folder / "ViT-B-32.pt")
    return folder
