"""What learns in a stage, and what stays exactly as it was.

Parts: `adapter` (the Whisper and CLIP adapters), `llm` (the decoder's layers and norms),
`text_rows` (the embedding rows of the backbone's own vocabulary), `new_rows` (the text special
slots and the audio rows), `all`. The embedding is one table, so training some of its rows
and not others is done by zeroing the others' gradients and putting their values back after
every optimiser step: frozen rows end bit-identical, whatever the optimiser does.
"""

from __future__ import annotations

import torch
from torch import nn

from omnitalk.omni.model import OmniModel


class RowFreezer:
    """Keeps rows [start, stop) of a parameter as they are."""

    def __init__(self, parameter: nn.Parameter, start: int, stop: int) -> None:
        self.parameter = parameter
        self.rows = slice(start, stop)
        self.saved = parameter.detach()[self.rows].clone()
        parameter.register_hook(self._zero_frozen_gradient)

    def _zero_frozen_gradient(self, gradient: torch.Tensor) -> torch.Tensor:
        gradient = gradient.clone()
        gradient[self.rows] = 0
        return gradient

    @torch.no_grad()
    def restore(self) -> None:
        self.parameter[self.rows] = self.saved.to(self.parameter.device, self.parameter.dtype)


def select_trainable(model: OmniModel, parts: list[str]) -> tuple[list[nn.Parameter],
                                                                  RowFreezer | None]:
    """Set requires_grad by part; return the trainable parameters and any row freezer."""
    parts = set(parts)
    everything = "all" in parts
    embedding = model.wte.weight
    for parameter in model.parameters():
        parameter.requires_grad_(everything)
    if not everything:
        if "adapter" in parts:
            for adapter in (model.whisper_adapter, model.vision_adapter):
                if adapter is not None:
                    adapter.requires_grad_(True)
        if "llm" in parts:
            for parameter in model.backbone.parameters():
                if parameter is not embedding:
                    parameter.requires_grad_(True)
    freezer = None
    rows = {"text_rows", "new_rows"} & parts
    if everything or rows:
        embedding.requires_grad_(True)
        split = model.config.vocab.text  # the backbone's own rows end here
        if rows == {"text_rows"} and not everything:
            freezer = RowFreezer(embedding, split, embedding.shape[0])
        elif rows == {"new_rows"} and not everything:
            freezer = RowFreezer(embedding, 0, split)
    return [p for p in model.parameters() if p.requires_grad], freezer
