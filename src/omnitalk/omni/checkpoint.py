"""Load Mini-Omni / Mini-Omni2 checkpoints and export them to safetensors.

Two folder layouts are read:
- the released one: `lit_model.pth` (a flat fp32 litgpt state dict), `model_config.yaml`,
  `tokenizer.json`;
- omnitalk's export: `model.safetensors`, `omni_config.json`, `tokenizer.json`.

litgpt 0.4 fuses Q, K and V into one `attn.attn` projection whose rows are interleaved by
query group (for each KV group: its query heads, then its key head, then its value head); the
loader splits them into transformers' q/k/v projections. The embedding is tied to the output
head and `transformer.wte.weight` is the one that counts (it is loaded last in the reference).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from omnitalk.engines.base import EngineError
from omnitalk.omni.config import OmniConfig
from omnitalk.omni.model import OmniModel
from omnitalk.omni.quantize import fresh_rotary

log = logging.getLogger(__name__)

LIT_WEIGHTS = "lit_model.pth"
LIT_CONFIG = "model_config.yaml"
EXPORT_WEIGHTS = "model.safetensors"
EXPORT_CONFIG = "omni_config.json"
TOKENIZER = "tokenizer.json"
TOKENIZER_FILES = (TOKENIZER, "tokenizer_config.json")


class CheckpointError(EngineError):
    pass


@dataclass
class OmniCheckpoint:
    model: OmniModel
    tokenizer: object  # tokenizers.Tokenizer: Qwen2 BPE, no BOS, no chat template
    folder: Path


def _require(folder: Path, name: str, what: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise CheckpointError(f"{folder}: missing {name} ({what})")
    return path


def _check_shapes(found: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]],
                  source: Path, optional: frozenset[str] = frozenset()) -> None:
    missing = [k for k in expected if k not in found and k not in optional]
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        shown = ", ".join(missing[:5]) + more
        raise CheckpointError(f"{source}: missing tensor {shown}")
    unexpected = sorted(set(found) - set(expected))
    if unexpected:
        raise CheckpointError(f"{source}: unexpected tensor {', '.join(unexpected[:5])} "
                              "(a different model or config?)")
    for key, shape in expected.items():
        if key in found and tuple(found[key].shape) != shape:
            raise CheckpointError(f"{source}: tensor {key} has shape {list(found[key].shape)}, "
                                  f"expected {list(shape)} from the model config")


def lit_shapes(config: OmniConfig) -> dict[str, tuple[int, ...]]:
    """Every tensor of a released `lit_model.pth` for this config, with its shape."""
    c = config
    qkv_rows = (c.n_head + 2 * c.n_query_groups) * c.head_size
    shapes: dict[str, tuple[int, ...]] = {
        "lm_head.weight": (c.vocab_size, c.n_embd),
        "transformer.wte.weight": (c.vocab_size, c.n_embd),
        "transformer.ln_f.weight": (c.n_embd,),
    }
    adapters = [("whisper_adapter", c.whisper_adapter_dim)]
    if c.vision_adapter_dim:
        adapters.append(("vision_adapter", c.vision_adapter_dim))
    for name, dim in adapters:
        shapes[f"{name}.fc_1.weight"] = (c.intermediate_size, dim)
        shapes[f"{name}.fc_2.weight"] = (c.intermediate_size, dim)
        shapes[f"{name}.proj.weight"] = (c.n_embd, c.intermediate_size)
    for i in range(c.n_layer):
        block = f"transformer.h.{i}"
        shapes |= {
            f"{block}.norm_1.weight": (c.n_embd,),
            f"{block}.attn.attn.weight": (qkv_rows, c.n_embd),
            f"{block}.attn.attn.bias": (qkv_rows,),
            f"{block}.attn.proj.weight": (c.n_embd, c.n_head * c.head_size),
            f"{block}.norm_2.weight": (c.n_embd,),
            f"{block}.mlp.fc_1.weight": (c.intermediate_size, c.n_embd),
            f"{block}.mlp.fc_2.weight": (c.intermediate_size, c.n_embd),
            f"{block}.mlp.proj.weight": (c.n_embd, c.intermediate_size),
        }
    return shapes


def split_fused_qkv(fused: torch.Tensor, config: OmniConfig) -> tuple[torch.Tensor, ...]:
    """litgpt 0.4's group-interleaved QKV rows (weight or bias) -> (q, k, v) rows."""
    per_group = config.n_head // config.n_query_groups
    grouped = fused.reshape(config.n_query_groups, per_group + 2, config.head_size,
                            *fused.shape[1:])
    q = grouped[:, :per_group].reshape(config.n_head * config.head_size, *fused.shape[1:])
    k = grouped[:, per_group].reshape(config.n_query_groups * config.head_size, *fused.shape[1:])
    v = grouped[:, per_group + 1].reshape(config.n_query_groups * config.head_size,
                                          *fused.shape[1:])
    return q, k, v


def lit_to_omni(state: dict[str, torch.Tensor], config: OmniConfig) -> dict[str, torch.Tensor]:
    """Rename a litgpt state dict to OmniModel's parameter names."""
    out: dict[str, torch.Tensor] = {
        "backbone.embed_tokens.weight": state["transformer.wte.weight"],
        "backbone.norm.weight": state["transformer.ln_f.weight"],
    }
    for key, value in state.items():
        if key.startswith(("whisper_adapter.", "vision_adapter.")):
            out[key] = value
    for i in range(config.n_layer):
        lit, hf = f"transformer.h.{i}", f"backbone.layers.{i}"
        for part, tensor in zip("qkv", split_fused_qkv(state[f"{lit}.attn.attn.weight"], config),
                                strict=True):
            out[f"{hf}.self_attn.{part}_proj.weight"] = tensor
        for part, tensor in zip("qkv", split_fused_qkv(state[f"{lit}.attn.attn.bias"], config),
                                strict=True):
            out[f"{hf}.self_attn.{part}_proj.bias"] = tensor
        out[f"{hf}.self_attn.o_proj.weight"] = state[f"{lit}.attn.proj.weight"]
        out[f"{hf}.input_layernorm.weight"] = state[f"{lit}.norm_1.weight"]
        out[f"{hf}.post_attention_layernorm.weight"] = state[f"{lit}.norm_2.weight"]
        out[f"{hf}.mlp.gate_proj.weight"] = state[f"{lit}.mlp.fc_1.weight"]
        out[f"{hf}.mlp.up_proj.weight"] = state[f"{lit}.mlp.fc_2.weight"]
        out[f"{hf}.mlp.down_proj.weight"] = state[f"{lit}.mlp.proj.weight"]
    return out


def _load_tokenizer(folder: Path):
    from tokenizers import Tokenizer

    path = _require(folder, TOKENIZER, "the Qwen2 tokenizer released with the checkpoint")
    return Tokenizer.from_file(str(path))


def _build(config: OmniConfig, weights: dict[str, torch.Tensor], source: Path,
           dtype: torch.dtype) -> OmniModel:
    # Mini-Omni's Qwen2 is built without memory (the 2.8 GB are loaded straight in); other
    # decoders may hold computed buffers of their own, so they are built for real.
    released = config.backbone is None
    with torch.device("meta" if released else "cpu"):
        model = OmniModel(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    _check_shapes(weights, expected, source)
    model.load_state_dict({k: v.to(dtype) for k, v in weights.items()}, strict=True,
                          assign=released)
    model.to(dtype)
    fresh_rotary(model.backbone)  # left empty by the meta device, or cast by .to()
    return model.eval()


def load_lit_checkpoint(folder: str | Path, dtype: torch.dtype = torch.float32) -> OmniCheckpoint:
    """A released Mini-Omni or Mini-Omni2 folder (`lit_model.pth`, `model_config.yaml`, ...)."""
    folder = Path(folder)
    config = OmniConfig.from_yaml(_require(folder, LIT_CONFIG, "litgpt's model config"))
    weights_path = _require(folder, LIT_WEIGHTS, "the released weights")
    try:  # mmap: the 2.8 GB file is paged in as tensors are converted, not copied whole first
        state = torch.load(weights_path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{weights_path}: not a readable PyTorch state dict ({error})") \
            from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{weights_path}: expected a flat state dict")
    _check_shapes(state, lit_shapes(config), weights_path, optional=frozenset({"lm_head.weight"}))
    head = state.get("lm_head.weight")
    if head is not None and not torch.equal(head, state["transformer.wte.weight"]):
        log.info("%s: lm_head differs from the embedding; the embedding is used for both, as "
                 "in the reference loader", weights_path)
    model = _build(config, lit_to_omni(state, config), weights_path, dtype)
    return OmniCheckpoint(model, _load_tokenizer(folder), folder)


def load_checkpoint(folder: str | Path, dtype: torch.dtype = torch.float32) -> OmniCheckpoint:
    """Either layout; omnitalk's safetensors export is preferred when both are present."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint folder not found: {folder}")
    if (folder / EXPORT_WEIGHTS).is_file():
        from safetensors.torch import load_file

        config_path = _require(folder, EXPORT_CONFIG, "the model shape, written by export")
        config = OmniConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        weights = load_file(folder / EXPORT_WEIGHTS)
        model = _build(config, weights, folder / EXPORT_WEIGHTS, dtype)
        return OmniCheckpoint(model, _load_tokenizer(folder), folder)
    if (folder / LIT_WEIGHTS).is_file():
        return load_lit_checkpoint(folder, dtype)
    raise CheckpointError(f"{folder}: no {LIT_WEIGHTS} (released Mini-Omni) or {EXPORT_WEIGHTS} "
                          "(omnitalk export) found")


def save_talker(model: OmniModel, out: str | Path, tokenizer=None) -> Path:
    """Write `model.safetensors` (the tied head stored once) and the config; with a
    `tokenizers.Tokenizer`, its `tokenizer.json` too."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, out / EXPORT_WEIGHTS, metadata={"format": "pt", "producer": "omnitalk"})
    (out / EXPORT_CONFIG).write_text(json.dumps(model.config.to_dict(), indent=2))
    if tokenizer is not None:
        tokenizer.save(str(out / TOKENIZER))
    return out


def export_safetensors(checkpoint: OmniCheckpoint, out: str | Path) -> Path:
    """A loaded checkpoint as safetensors, with the tokenizer files it was read with."""
    out = save_talker(checkpoint.model, out)
    for name in TOKENIZER_FILES:
        source = checkpoint.folder / name
        if source.is_file() and source.resolve() != (out / name).resolve():
            shutil.copyfile(source, out / name)
    return out
