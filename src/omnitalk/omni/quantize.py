"""Run a talker in fp32, bf16, or bf16 with int8 weights.

Decoding one step is a matrix-vector product per layer: its time is the time to read the
weights. bf16 halves that and int8 weights (with bf16 activations and one scale per output
row) halve it again; `omnitalk bench omni` measures each. fp32 is the reference numerics.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Precision = Literal["fp32", "bf16", "int8"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "int8")
# aten's int8 kernel reads the input dimension in blocks of 16: other widths crash or are wrong.
_INT8_BLOCK = 16
# It is a matrix-vector kernel: from this many rows on (a prefill), dequantising to bf16 and
# using the matrix-matrix kernel is faster (1.8x for a 154-row prefill here).
_DEQUANTISE_FROM_ROWS = 16
_ROWS_AT_ONCE = 8192


class Int8Linear(nn.Module):
    """y = x W^T + b with W stored as int8 rows times one bf16 scale per row.

    Calls aten's weight-only int8 kernel directly: torchao's Int8WeightOnly tensor subclass
    calls the same kernel but adds about 0.4 ms of dispatch per call on this CPU (24 layers x 7
    projections per step).
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        super().__init__()
        weight = weight.detach()
        quantised = torch.empty(weight.shape, dtype=torch.int8)
        scale = torch.empty(weight.shape[0])
        for start in range(0, weight.shape[0], _ROWS_AT_ONCE):  # bounded temporaries
            rows = weight[start:start + _ROWS_AT_ONCE].float()
            row_scale = rows.abs().amax(dim=1).clamp(min=1e-8) / 127
            quantised[start:start + _ROWS_AT_ONCE] = torch.round(rows / row_scale[:, None])
            scale[start:start + _ROWS_AT_ONCE] = row_scale
        self.register_buffer("weight_int8", quantised)
        self.register_buffer("scale", scale.to(torch.bfloat16))
        self.register_buffer("bias", None if bias is None else bias.detach().to(torch.bfloat16))

    @staticmethod
    def supports(in_features: int) -> bool:
        return in_features % _INT8_BLOCK == 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
        if flat.shape[0] >= _DEQUANTISE_FROM_ROWS:
            weight = self.weight_int8.to(torch.bfloat16) * self.scale[:, None]
            y = torch.nn.functional.linear(flat, weight)
        else:
            y = torch.ops.aten._weight_int8pack_mm(flat, self.weight_int8, self.scale)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], -1)


class Int8Head(nn.Module):
    """The tied output head's text and audio slices as int8 copies (the embedding stays bf16)."""

    def __init__(self, embedding_weight: torch.Tensor, audio_base: int) -> None:
        super().__init__()
        self.text_head = Int8Linear(embedding_weight[:audio_base])
        self.audio_head = Int8Linear(embedding_weight[audio_base:])

    def text(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.text_head(hidden)

    def audio(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.audio_head(hidden)


def _int8_linears(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Linear) and Int8Linear.supports(child.in_features):
            setattr(module, name, Int8Linear(child.weight, child.bias))
        else:
            _int8_linears(child)


def fresh_rotary(backbone: nn.Module) -> None:
    """Rebuild RoPE's frequency table in fp32: it is a computed buffer, and cast to bf16 its
    frequencies drift enough to turn positions in the hundreds by a third of a radian."""
    rotary = getattr(backbone, "rotary_emb", None)
    if rotary is not None:
        backbone.rotary_emb = type(rotary)(config=backbone.config).to(
            next(backbone.parameters()).device)


def set_precision(model, precision: Precision):
    """Convert an OmniModel in place for inference; returns it. int8 cannot be undone."""
    if precision == "fp32":
        return model.float()
    if precision not in ("bf16", "int8"):
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    model.to(torch.bfloat16)
    fresh_rotary(model.backbone)
    if precision == "int8":
        _int8_linears(model.backbone)
        _int8_linears(model.whisper_adapter)
        if model.vision_adapter is not None:
            _int8_linears(model.vision_adapter)
        if Int8Linear.supports(model.config.n_embd):
            model.head = Int8Head(model.wte.weight, model.config.vocab.audio_base)
    return model
