"""Run a talker in fp32, bf16, or with int8 weights, on the kernels this CPU is fast with.

Decoding one step is a matrix-vector product per layer: its time is the time to read the
weights. bf16 halves that and int8 weights halve it again; `omnitalk bench omni` measures each.
fp32 is the reference numerics.

int8 has two kernels, chosen by CPU feature (`int8_kernel`):
- "weight-only": int8 weights, bf16 activations (aten's int8pack kernel). Rows stay
  independent, but it is a matrix-vector kernel that computes in bf16: fast with AMX, and
  slower than bf16 itself from 8 rows on where bf16 is emulated by AVX-512 BF16.
- "dynamic": int8 weights and int8 activations (fbgemm, VNNI where the CPU has it), one scale
  per tensor, and everything else (norms, attention, the cache) in fp32. On an AMD EPYC
  without AMX (family 25 model 17, 2 threads), a 896 -> 4864 projection took
  0.061 / 0.081 / 0.151 ms at 1 / 2 / 8 rows against weight-only's 0.119 / 0.178 / 0.517 and
  bf16's 0.282 / 0.340 / 0.495, and a whole Mini-Omni-sized body step 30 / 40 ms at 2 / 8
  rows against 43 / 92 ms for weight-only in bf16. The SwiGLU output projections read
  activations with outliers (see `omnitalk.duplex.state_head`) that one int8 scale per tensor
  crushes: they stay weight-only (in bf16, cast back).
"""

from __future__ import annotations

import warnings
from typing import Literal

import torch
from torch import nn

Precision = Literal["fp32", "bf16", "int8"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16", "int8")
INT8_KERNELS: tuple[str, ...] = ("auto", "weight-only", "dynamic")
# The SwiGLU output projections (the backbone's and the adapters'): their inputs carry
# outliers thousands of times their mean, which one int8 scale would crush.
_OUTLIER_INPUTS = {"down_proj", "proj"}
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
        return y.to(x.dtype).reshape(*x.shape[:-1], -1)


class DynamicInt8Linear(nn.Module):
    """y = x W^T + b with int8 weights (one scale per row) and int8 activations quantised per
    call, one scale for the whole input: rows of a batch share it.

    `reduce_range` keeps products inside the 16-bit accumulators of CPUs without VNNI.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None,
                 reduce_range: bool = False) -> None:
        super().__init__()
        weight = weight.detach().float()
        scale = (weight.abs().amax(dim=1).clamp(min=1e-8) / 127).double()
        zero = torch.zeros_like(scale, dtype=torch.long)
        quantised = torch.quantize_per_channel(weight, scale, zero, 0, torch.qint8)
        self.packed = torch.ops.quantized.linear_prepack(
            quantised, None if bias is None else bias.detach().float())
        self.reduce_range = reduce_range
        self.out_features = weight.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1]).float()
        y = torch.ops.quantized.linear_dynamic(flat, self.packed, self.reduce_range)
        return y.to(x.dtype).reshape(*x.shape[:-1], self.out_features)


def cpu_features() -> dict[str, bool]:
    """The CPU features that decide the kernels (as PyTorch detects them)."""
    return {"amx": torch.cpu._is_amx_tile_supported(),
            "avx512_bf16": torch.cpu._is_avx512_bf16_supported(),
            "vnni": torch.cpu._is_vnni_supported()}


def int8_kernel(requested: str = "auto", features: dict[str, bool] | None = None) -> str:
    """"auto": weight-only where AMX makes bf16 matrix products fast, dynamic elsewhere."""
    if requested not in INT8_KERNELS:
        raise ValueError(f"int8 kernel must be one of {', '.join(INT8_KERNELS)}, "
                         f"got {requested!r}")
    if requested != "auto":
        return requested
    features = features or cpu_features()
    return "weight-only" if features["amx"] else "dynamic"


def fast_codec_dtype(features: dict[str, bool] | None = None) -> torch.dtype:
    """SNAC's convolutions are compute-bound: bf16 where the CPU multiplies bf16 natively."""
    features = features or cpu_features()
    return torch.bfloat16 if features["amx"] or features["avx512_bf16"] else torch.float32


def _int8(weight: torch.Tensor, bias: torch.Tensor | None, kernel: str,
          outlier_inputs: bool = False) -> nn.Module:
    if kernel == "dynamic" and not outlier_inputs:
        return DynamicInt8Linear(weight, bias, reduce_range=not cpu_features()["vnni"])
    return Int8Linear(weight, bias)


class Int8Head(nn.Module):
    """The tied output head's text and audio slices as int8 copies (the embedding stays bf16)."""

    def __init__(self, embedding_weight: torch.Tensor, audio_base: int,
                 kernel: str = "weight-only") -> None:
        super().__init__()
        self.text_head = _int8(embedding_weight[:audio_base], None, kernel)
        self.audio_head = _int8(embedding_weight[audio_base:], None, kernel)

    def text(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.text_head(hidden)

    def audio(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.audio_head(hidden)


def _int8_linears(module: nn.Module, kernel: str) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Linear) and Int8Linear.supports(child.in_features):
            setattr(module, name, _int8(child.weight, child.bias, kernel,
                                        name in _OUTLIER_INPUTS))
        else:
            _int8_linears(child, kernel)


def fresh_rotary(backbone: nn.Module) -> None:
    """Rebuild RoPE's frequency table in fp32: it is a computed buffer, and cast to bf16 its
    frequencies drift enough to turn positions in the hundreds by a third of a radian."""
    rotary = getattr(backbone, "rotary_emb", None)
    if rotary is not None:
        backbone.rotary_emb = type(rotary)(config=backbone.config).to(
            next(backbone.parameters()).device)


def set_precision(model, precision: Precision, kernel: str = "auto"):
    """Convert an OmniModel in place for inference; returns it. int8 cannot be undone.

    `kernel` picks int8's kernel (`int8_kernel`); the model records it as `int8_kernel`.
    """
    if precision == "fp32":
        return model.float()
    if precision not in ("bf16", "int8"):
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    kernel = int8_kernel(kernel) if precision == "int8" else ""
    if kernel == "dynamic":
        model.float()  # the int8 products take and give fp32; bf16 elsewhere would be emulated
    else:
        model.to(torch.bfloat16)
        fresh_rotary(model.backbone)
    if precision == "int8":
        model.int8_kernel = kernel
        with warnings.catch_warnings():  # torch.ao's deprecation notice; torch is pinned
            warnings.simplefilter("ignore")
            _int8_linears(model.backbone, kernel)
            _int8_linears(model.whisper_adapter, kernel)
            if model.vision_adapter is not None:
                _int8_linears(model.vision_adapter, kernel)
            if Int8Linear.supports(model.config.n_embd):
                model.head = Int8Head(model.wte.weight, model.config.vocab.audio_base, kernel)
    return model
