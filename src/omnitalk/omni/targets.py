"""Training sequences for a talker: what it must emit after a prompt, and the per-stream loss.

The answer is laid out exactly as `decoding.decode` reads it back, step by step:
- text: the answer tokens, eot, then pad_t;
- audio layer L: pad_a until frame 0's step, then frame k's code at step k + L + 1
  (`layout.audio_delay`), then eoa (layer 6's eoa is the step where decoding stops, so it is
  part of the answer), then pad_a.
A text-only answer has pad_a in every audio row. The model reads the answer shifted by one:
the logits at prompt position P - 1 + s are trained to emit step s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from omnitalk.omni.layout import (
    AUDIO_LAYERS,
    AUDIO_STRIDE,
    EOA,
    FRAME_DELAY,
    MINI_OMNI,
    PAD_A,
    TEXT_STREAM,
    Prompt,
    Vocab,
    audio_delay,
)

IGNORE = -100


def answer_rows(text: list[int], frames: np.ndarray | None = None, steps: int | None = None,
                vocab: Vocab = MINI_OMNI) -> np.ndarray:
    """The 8 global-id rows [8, S] a talker emits for this answer (see the module docstring).

    S is the longer of the text (with eot) and the audio (with the delay and eoa), or `steps`
    when given (longer answers are padded; a shorter `steps` is refused).
    """
    needed = len(text) + 1
    if frames is not None:
        frames = np.asarray(frames, dtype=np.int64).reshape(-1, AUDIO_LAYERS)
        needed = max(needed, len(frames) + FRAME_DELAY + 1)  # + 1: the last layer's eoa
    steps = needed if steps is None else steps
    if steps < needed:
        raise ValueError(f"this answer needs {needed} steps, got {steps}")
    rows = np.empty((TEXT_STREAM + 1, steps), np.int64)
    rows[TEXT_STREAM] = vocab.pad_t
    rows[TEXT_STREAM, :len(text) + 1] = [*text, vocab.eot]
    for layer in range(AUDIO_LAYERS):
        local = np.full(steps, PAD_A, np.int64)
        if frames is not None:
            start = audio_delay(layer)
            local[start:start + len(frames)] = frames[:, layer]
            local[start + len(frames)] = EOA
        rows[layer] = vocab.audio_id(local, layer)
    return rows


@dataclass(frozen=True)
class Example:
    """One training row: inputs [8, L] and targets [8, L] (IGNORE where nothing is learned)."""

    inputs: np.ndarray
    targets: np.ndarray
    prompt: Prompt


def training_example(prompt: Prompt, answer: np.ndarray, learn_audio: bool = True) -> Example:
    """Prompt + answer teacher-forced: position P - 1 + s is trained to emit answer step s."""
    inputs = np.concatenate([prompt.ids, answer[:, :-1]], axis=1)
    targets = np.full_like(inputs, IGNORE)
    targets[:, prompt.length - 1:] = answer
    if not learn_audio:
        targets[:TEXT_STREAM] = IGNORE
    return Example(inputs, targets, prompt)


def stream_losses(model, inputs: torch.Tensor, targets: torch.Tensor,
                  **features) -> dict[str, torch.Tensor]:
    """Mean cross-entropy per stream ("text", "audio0".."audio6") over the targeted positions.

    The head is computed only where some stream has a target. A stream with no target in the
    batch is left out.
    """
    hidden = model.hidden(model.embed(inputs, **features))  # [B, L, H]
    where = (targets != IGNORE).any(dim=1)  # [B, L]
    hidden, targets = hidden[where], targets.transpose(1, 2)[where]  # [N, H], [N, 8]
    losses = {}
    text = targets[:, TEXT_STREAM]
    if (text != IGNORE).any():
        losses["text"] = F.cross_entropy(model.text_logits(hidden).float(), text,
                                         ignore_index=IGNORE)
    audio = targets[:, :AUDIO_LAYERS]
    if (audio != IGNORE).any():
        logits = model.audio_logits(hidden).float()  # [N, 7, 4160]
        base = model.config.vocab.audio_base
        shift = base + AUDIO_STRIDE * torch.arange(AUDIO_LAYERS, device=audio.device)
        local = torch.where(audio == IGNORE, IGNORE, audio - shift)
        for layer in range(AUDIO_LAYERS):
            if (local[:, layer] != IGNORE).any():
                losses[f"audio{layer}"] = F.cross_entropy(logits[:, layer], local[:, layer],
                                                          ignore_index=IGNORE)
    return losses
