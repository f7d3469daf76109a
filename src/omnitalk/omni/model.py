"""The Mini-Omni talker: a causal LM backbone that reads 8 parallel streams and writes 8.

Input: each of the 8 id streams (7 SNAC layers, then text) is embedded with the one shared
table, adapted Whisper (or CLIP) features replace the audio streams' embeddings where the prompt
says, and the backbone reads the mean of the 8. Output: one head tied to the embedding, sliced
into a 152,000-wide text distribution and seven 4,160-wide audio distributions. Callers ask for
the slices they sample: the text slice alone is 136M multiply-adds per row, the audio ones 26M.

The backbone is a transformers decoder: Qwen2 for the released checkpoints (Qwen2-0.5B), any
other for talkers made by `omnitalk train`. The talker only asks it for `inputs_embeds` ->
hidden states with a KV cache.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from omnitalk.omni.config import OmniConfig
from omnitalk.omni.layout import AUDIO_LAYERS, AUDIO_STRIDE


class SwiGLUAdapter(nn.Module):
    """Maps encoder features to the LM width: proj(silu(fc_1 x) * fc_2 x), no biases."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__()
        self.fc_1 = nn.Linear(in_dim, hidden_dim, bias=False)
        self.fc_2 = nn.Linear(in_dim, hidden_dim, bias=False)
        self.proj = nn.Linear(hidden_dim, out_dim, bias=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.proj(F.silu(self.fc_1(features)) * self.fc_2(features))


class TiedHead(nn.Module):
    """The output head, read from the embedding table it is tied to."""

    def __init__(self, embedding: nn.Embedding, audio_base: int) -> None:
        super().__init__()
        self._embedding = [embedding]  # a list: not registered twice as a submodule
        self.audio_base = audio_base

    def text(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(hidden, self._embedding[0].weight[:self.audio_base])

    def audio(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(hidden, self._embedding[0].weight[self.audio_base:])


class OmniModel(nn.Module):
    def __init__(self, config: OmniConfig, backbone: nn.Module | None = None) -> None:
        super().__init__()
        from transformers import AutoModel

        self.config = config
        self.backbone = backbone if backbone is not None else AutoModel.from_config(
            config.backbone_config())
        self.whisper_adapter = SwiGLUAdapter(
            config.whisper_adapter_dim, config.intermediate_size, config.n_embd
        )
        self.vision_adapter = (
            SwiGLUAdapter(config.vision_adapter_dim, config.intermediate_size, config.n_embd)
            if config.vision_adapter_dim else None
        )
        # Replaced by an int8 copy when quantised (omnitalk.omni.quantize).
        self.head: nn.Module = TiedHead(self.wte, config.vocab.audio_base)

    @property
    def wte(self) -> nn.Embedding:
        return self.backbone.get_input_embeddings()

    @property
    def dtype(self) -> torch.dtype:
        return self.wte.weight.dtype

    @property
    def device(self) -> torch.device:
        return self.wte.weight.device

    def embed(
        self,
        ids: torch.Tensor,
        audio_features: torch.Tensor | None = None,
        audio_positions: slice | list[slice] | None = None,
        image_features: torch.Tensor | None = None,
        image_positions: slice | list[slice] | None = None,
    ) -> torch.Tensor:
        """ids [B, 8, T] -> the backbone's input [B, T, n_embd].

        Features [B, F, dim] go through their adapter and overwrite the 7 audio streams at
        `*_positions` (one slice for every row, or one per row, each row's features then
        zero-padded to F); the text stream keeps its own embedding there.
        """
        streams = self.wte(ids)  # [B, 8, T, H]
        for features, positions, adapter in (
            (audio_features, audio_positions, self.whisper_adapter),
            (image_features, image_positions, self.vision_adapter),
        ):
            if features is None:
                continue
            if adapter is None:
                raise ValueError("this model has no vision adapter (a Mini-Omni2 model has one)")
            adapted = adapter(features.to(self.dtype))
            if isinstance(positions, slice):
                if features.shape[1] != positions.stop - positions.start:
                    raise ValueError(f"{features.shape[1]} feature frames do not fit prompt "
                                     f"positions {positions}")
                streams[:, :AUDIO_LAYERS, positions] = adapted[:, None]
                continue
            if positions is None or len(positions) != ids.shape[0]:
                raise ValueError("features need prompt positions: one slice, or one per row")
            for row, span in enumerate(positions):
                frames = span.stop - span.start
                streams[row, :AUDIO_LAYERS, span] = adapted[row, None, :frames]
        return streams.mean(dim=1)

    def hidden(self, embeds: torch.Tensor, cache=None) -> torch.Tensor:
        """Run the backbone; `cache` (a transformers Cache) is extended in place."""
        out = self.backbone(inputs_embeds=embeds, cache=cache, use_cache=cache is not None)
        return out.last_hidden_state

    def text_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """[..., H] -> [..., audio_base]: the text vocabulary and its 64 special slots."""
        return self.head.text(hidden)

    def audio_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """[..., H] -> [..., 7, 4160]: each SNAC layer's codes and audio special slots."""
        return self.head.audio(hidden).unflatten(-1, (AUDIO_LAYERS, AUDIO_STRIDE))

    def forward(self, ids: torch.Tensor, **features) -> tuple[torch.Tensor, torch.Tensor]:
        """Whole-sequence logits: text [B, T, 152000] and audio [B, T, 7, 4160]."""
        hidden = self.hidden(self.embed(ids, **features))
        return self.text_logits(hidden), self.audio_logits(hidden)
