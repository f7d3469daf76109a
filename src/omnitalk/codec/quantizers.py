"""Vector quantisers for speech codecs: VQ, SimVQ, residual VQ and SNAC's multi-scale RVQ.

All take vectors on the last axis and return a `Quantized`: the quantised vectors (with a
straight-through gradient to the input), the code indices and the training loss.

- `VectorQuantizer`: the nearest of `size` learned codewords; the loss is VQ-VAE's codebook term
  (codewords move to the inputs) plus `commitment` times the commitment term (inputs stay near
  their codewords).
- `SimVQ`: the codewords are a frozen random basis times one learned linear map (Zhu et al.,
  "Addressing Representation Collapse in Vector Quantized Models with One Linear Layer",
  2024). A gradient step on the map moves every codeword, not only the ones chosen, so codes
  do not die for never having been picked.
- `ResidualVQ`: each level quantises what the levels before it left over.
- `MultiScaleRVQ`: SNAC's layout: level `i` quantises the residual average-pooled over
  `strides[i]` time steps, then repeats its codewords back over them. With strides (4, 2, 1)
  a frame of 4 time steps has 1 + 2 + 4 = 7 codes, Mini-Omni's frame (`snac_frames`).

`codebook_usage` reports what a codec's codebooks are worth: the share of codes used, their
perplexity and how many are dead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class Quantized:
    vectors: torch.Tensor  # [..., dim], with a straight-through gradient to the input
    codes: torch.Tensor | list[torch.Tensor]  # [...] indices (one tensor per level for RVQs)
    loss: torch.Tensor  # codebook + commitment terms, summed over levels


class _NearestCodeword(nn.Module):
    """Quantises to the nearest of `codewords()`; subclasses say where the codewords come from."""

    def __init__(self, dim: int, size: int, commitment: float = 0.25) -> None:
        super().__init__()
        self.dim, self.size, self.commitment = dim, size, commitment

    def codewords(self) -> torch.Tensor:
        """[size, dim]"""
        raise NotImplementedError

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """[..., dim] -> [...] the index of each vector's nearest codeword."""
        return _nearest(x, self.codewords())

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """[...] -> [..., dim]"""
        return F.embedding(codes, self.codewords())

    def forward(self, x: torch.Tensor) -> Quantized:
        codewords = self.codewords()
        codes = _nearest(x, codewords)
        chosen = F.embedding(codes, codewords)
        loss = (F.mse_loss(chosen, x.detach())
                + self.commitment * F.mse_loss(x, chosen.detach()))
        return Quantized(x + (chosen - x).detach(), codes, loss)


class VectorQuantizer(_NearestCodeword):
    """Learned codewords."""

    def __init__(self, dim: int, size: int, commitment: float = 0.25) -> None:
        super().__init__(dim, size, commitment)
        self.embedding = nn.Embedding(size, dim)
        nn.init.normal_(self.embedding.weight, std=dim ** -0.5)

    def codewords(self) -> torch.Tensor:
        return self.embedding.weight


class SimVQ(_NearestCodeword):
    """A frozen random basis [size, dim] times a learned [dim, dim] map: every codeword moves
    with every step. The basis is a buffer, so it is saved with the weights."""

    def __init__(self, dim: int, size: int, commitment: float = 0.25) -> None:
        super().__init__(dim, size, commitment)
        self.register_buffer("basis", torch.randn(size, dim) * dim ** -0.5)
        self.projection = nn.Linear(dim, dim, bias=False)
        nn.init.eye_(self.projection.weight)

    def codewords(self) -> torch.Tensor:
        return self.projection(self.basis)


class ResidualVQ(nn.Module):
    def __init__(self, levels: Sequence[_NearestCodeword]) -> None:
        super().__init__()
        self.levels = nn.ModuleList(levels)

    def forward(self, x: torch.Tensor) -> Quantized:
        residual, total, codes, loss = x, torch.zeros_like(x), [], x.new_zeros(())
        for level in self.levels:
            out = level(residual)
            residual = residual - out.vectors.detach()
            total = total + out.vectors
            codes.append(out.codes)
            loss = loss + out.loss
        # One straight-through path for the sum: the input's gradient is the output's.
        return Quantized(x + (total - x).detach(), codes, loss)

    def decode(self, codes: Sequence[torch.Tensor]) -> torch.Tensor:
        return sum(level.decode(c) for level, c in zip(self.levels, codes, strict=True))


class MultiScaleRVQ(nn.Module):
    """Residual levels at coarser time scales: input [batch, time, dim], time a multiple of
    the largest stride; level `i`'s codes are [batch, time / strides[i]]."""

    def __init__(self, levels: Sequence[_NearestCodeword],
                 strides: Sequence[int] = (4, 2, 1)):
        super().__init__()
        if len(levels) != len(strides):
            raise ValueError(f"{len(levels)} levels need {len(levels)} strides, got {strides}")
        self.levels = nn.ModuleList(levels)
        self.strides = tuple(strides)

    @property
    def frame(self) -> int:
        """Time steps that one frame of codes covers."""
        return math.lcm(*self.strides)

    def forward(self, x: torch.Tensor) -> Quantized:
        self._check(x.shape[1])
        residual, total, codes, loss = x, torch.zeros_like(x), [], x.new_zeros(())
        for level, stride in zip(self.levels, self.strides, strict=True):
            pooled = _pool(residual, stride)
            out = level(pooled)
            upsampled = out.vectors.repeat_interleave(stride, dim=1)
            residual = residual - upsampled.detach()
            total = total + upsampled
            codes.append(out.codes)
            loss = loss + out.loss
        return Quantized(x + (total - x).detach(), codes, loss)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        return self.forward(x).codes

    def decode(self, codes: Sequence[torch.Tensor]) -> torch.Tensor:
        """Per-level codes [batch, time / stride] -> [batch, time, dim]."""
        return sum(level.decode(c).repeat_interleave(stride, dim=1) for level, c, stride
                   in zip(self.levels, codes, self.strides, strict=True))

    def _check(self, time: int) -> None:
        if time % self.frame:
            raise ValueError(f"{time} time steps are not whole frames of {self.frame}")


def _pool(x: torch.Tensor, stride: int) -> torch.Tensor:
    """[batch, time, dim] -> [batch, time / stride, dim], the mean of each run of `stride`."""
    if stride == 1:
        return x
    return x.unflatten(1, (-1, stride)).mean(dim=2)


def _nearest(x: torch.Tensor, codewords: torch.Tensor) -> torch.Tensor:
    flat = x.reshape(-1, x.shape[-1])
    distances = (flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codewords.T
                 + codewords.pow(2).sum(1))
    return distances.argmin(dim=1).reshape(x.shape[:-1])


def codebook_usage(codes: torch.Tensor, size: int) -> dict[str, float]:
    """Over a set of codes from one codebook: the share of the `size` codes used, the
    perplexity of their histogram (`size` when all are used equally) and the dead count."""
    counts = torch.bincount(codes.reshape(-1), minlength=size).double()
    probabilities = counts / counts.sum().clamp(min=1)
    entropy = -(probabilities[probabilities > 0] * probabilities[probabilities > 0].log()).sum()
    used = int((counts > 0).sum())
    return {"usage": used / size, "perplexity": float(entropy.exp()), "dead": size - used}
