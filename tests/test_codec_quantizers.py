"""The quantisers on synthetic data: exact codewords, straight-through gradients, usage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from omnitalk.codec.quantizers import (
    MultiScaleRVQ,
    ResidualVQ,
    SimVQ,
    VectorQuantizer,
    codebook_usage,
)
from omnitalk.codec.snac_frames import codes_to_frames, frames_to_codes


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


@pytest.mark.parametrize("kind", [VectorQuantizer, SimVQ])
def test_codewords_encode_to_their_own_index_and_decode_exactly(kind):
    quantizer = kind(16, 64)
    codewords = quantizer.codewords().detach()
    indices = torch.arange(64)
    assert torch.equal(quantizer.encode(codewords), indices)
    assert torch.equal(quantizer.decode(indices), quantizer.codewords())
    out = quantizer(codewords[None])
    assert torch.equal(out.codes[0], indices)
    torch.testing.assert_close(out.vectors[0], codewords)
    assert float(out.loss.detach()) == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("kind", [VectorQuantizer, SimVQ])
def test_the_input_gets_the_output_gradient_and_the_codebook_learns_from_the_loss(kind):
    quantizer = kind(8, 32)
    x = torch.randn(5, 8, requires_grad=True)
    out = quantizer(x)
    weights = torch.randn(5, 8)
    (out.vectors * weights).sum().backward()
    torch.testing.assert_close(x.grad, weights)  # straight through the rounding
    assert all(p.grad is None for p in quantizer.parameters())  # the output alone: no codebook
    out.loss.backward()
    learned = [p for p in quantizer.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    assert learned
    if kind is SimVQ:
        assert "basis" in dict(quantizer.named_buffers())  # frozen, saved with the weights
        assert [name for name, _ in quantizer.named_parameters()] == ["projection.weight"]


def train_on_low_rank_data(quantizer, steps=200, rank=4):
    """Vectors in a 4-dimensional subspace of the quantiser's space, as a codec's latents are
    (16 principal components carry 99.9 % of Piper's z)."""
    basis = torch.linalg.qr(torch.randn(quantizer.dim, rank))[0].T

    def sample(n):
        return torch.randn(n, rank) @ basis

    optimiser = torch.optim.Adam(quantizer.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = quantizer(sample(512)).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        x = sample(8192)
        codes = quantizer.encode(x)
        error = float((quantizer.decode(codes) - x).pow(2).sum(-1).mean())
    return codebook_usage(codes, quantizer.size), error


def test_simvq_keeps_the_whole_codebook_in_use_where_plain_vq_leaves_most_dead():
    plain, plain_error = train_on_low_rank_data(VectorQuantizer(32, 256))
    sim, sim_error = train_on_low_rank_data(SimVQ(32, 256))
    assert sim["usage"] >= 0.95 and sim["dead"] <= 12
    assert plain["usage"] < 0.5
    assert sim["perplexity"] > 2 * plain["perplexity"]
    assert sim_error < plain_error


def test_each_residual_level_quantises_what_the_levels_before_left():
    rvq = ResidualVQ([VectorQuantizer(8, 16), VectorQuantizer(8, 16), SimVQ(8, 16)])
    x = torch.randn(3, 10, 8)
    out = rvq(x)
    residual = x
    for level, codes in zip(rvq.levels, out.codes, strict=True):
        assert torch.equal(codes, level.encode(residual))
        residual = residual - level.decode(codes)
    torch.testing.assert_close(out.vectors, rvq.decode(out.codes))
    torch.testing.assert_close(out.vectors, x - residual)


def test_the_multiscale_rvq_writes_snacs_frames():
    msrvq = MultiScaleRVQ([SimVQ(8, 4096) for _ in range(3)], strides=(4, 2, 1))
    assert msrvq.frame == 4
    x = torch.randn(1, 12, 8)  # 3 frames
    out = msrvq(x)
    assert [tuple(c.shape) for c in out.codes] == [(1, 3), (1, 6), (1, 12)]
    frames = codes_to_frames(*(c.numpy() for c in out.codes))
    assert frames.shape == (3, 7)  # Mini-Omni's 7 codes per frame, in SNAC's order
    back = [torch.from_numpy(c) for c in frames_to_codes(frames)]
    torch.testing.assert_close(msrvq.decode(back), out.vectors)
    # The coarse level sees each frame's mean: a frame that is one codeword throughout is
    # coded by it, whatever the finer levels do.
    word = msrvq.levels[0].codewords()[7].detach()
    steady = word.expand(1, 4, 8).clone()
    assert int(msrvq(steady).codes[0]) == 7
    with pytest.raises(ValueError, match="not whole frames of 4"):
        msrvq(torch.randn(1, 6, 8))


def test_codebook_usage_figures():
    usage = codebook_usage(torch.tensor([0, 0, 1, 1]), 4)
    assert usage == {"usage": 0.5, "perplexity": pytest.approx(2.0), "dead": 2}
    assert codebook_usage(torch.arange(8), 8)["perplexity"] == pytest.approx(8.0)
    assert np.isclose(codebook_usage(torch.zeros(5, dtype=torch.long), 3)["perplexity"], 1.0)
