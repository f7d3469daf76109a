"""Text-instructed delayed parallel decoding, one step at a time.

Each step runs the talker on 8 ids per batch row and samples a text token and 7 audio tokens
(audio layer L lags the text by L + 1 steps; see `layout.audio_delay`). Three plans share one
loop, differing only in which batch row's logits are sampled:

- text only (A1->T2, ASR, T1->T2): text from row 0; every audio stream is fed pad_a; stops at eot.
- speech (A1->A2, T1->A2): text and audio from row 0.
- batch-parallel (Mini-Omni's streaming mode): row 0 asks for speech, row 1 for text only; the
  audio comes from row 0, the text from row 1, and that text is fed back to both rows, so the
  speech follows the better text of the text-only branch.

Speech stops when audio layer 6 emits end-of-audio (the last layer to finish); after the text's
eot every later text token is pad_t. As in the reference, end-of-audio stops the answer only
from the first decode step on: the prefill step's audio is kept whatever it is. Only the head
slices that are sampled are computed, and the text slice not at all once the text has ended.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from omnitalk.omni.layout import (
    AUDIO_LAYERS,
    EOA,
    PAD_A,
    STREAMS,
    TEXT_STREAM,
    Prompt,
    frame_at_step,
)
from omnitalk.omni.settings import DecodingOptions, Sampling


@dataclass(frozen=True)
class Plan:
    """Which batch row's text and audio logits are sampled (audio None: text only)."""

    text_row: int
    audio_row: int | None

    @property
    def speaks(self) -> bool:
        return self.audio_row is not None


TEXT_ONLY = Plan(text_row=0, audio_row=None)
SPEECH = Plan(text_row=0, audio_row=0)
BATCH_PARALLEL = Plan(text_row=1, audio_row=0)


@dataclass(frozen=True)
class Step:
    index: int
    text: int | None  # the text token (eot included), None once the text has ended
    audio: np.ndarray | None  # 7 local ids, one per layer, delay included (None: text only)


def sample(logits: torch.Tensor, settings: Sampling,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one id per row of `logits` [..., V]: top-k, then temperature, then top-p."""
    if settings.greedy:
        return logits.argmax(dim=-1)
    logits = logits.float()
    if 0 < settings.top_k < logits.shape[-1]:
        kth = torch.topk(logits, settings.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits / settings.temperature, dim=-1)
    if settings.top_p < 1:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        # Drop a token when the tokens before it already cover top_p (the first always stays).
        drop = sorted_probs.cumsum(dim=-1) - sorted_probs >= settings.top_p
        probs = probs.scatter(-1, order, sorted_probs.masked_fill(drop, 0.0))
    flat = probs.reshape(-1, probs.shape[-1])
    return torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:-1])


class Talker:
    """The model plus its KV cache: a prefill, then one position per step."""

    def __init__(self, model) -> None:
        from transformers import DynamicCache

        self.model = model
        self.cache = DynamicCache()

    @torch.inference_mode()
    def prefill(self, ids: torch.Tensor, **features) -> torch.Tensor:
        """ids [B, 8, P] -> hidden state at the last position [B, H].

        Batch-parallel prompts differ only in their last token: the shared part is run once
        and its cache copied to every row (half the prefill of Mini-Omni's streaming mode).
        """
        if _shares_all_but_last(ids, features):
            first = {k: v[:1] if isinstance(v, torch.Tensor) else v for k, v in features.items()}
            self.model.hidden(self.model.embed(ids[:1, :, :-1], **first), self.cache)
            self.cache.batch_repeat_interleave(ids.shape[0])
            return self.model.hidden(self.model.embed(ids[:, :, -1:]), self.cache)[:, -1]
        return self.model.hidden(self.model.embed(ids, **features), self.cache)[:, -1]

    @torch.inference_mode()
    def step(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B, 8] for the next position -> its hidden state [B, H]."""
        return self.model.hidden(self.model.embed(ids[:, :, None]), self.cache)[:, -1]


def _shares_all_but_last(ids: torch.Tensor, features: dict) -> bool:
    """Whether every row has the same ids and features up to the last position."""
    if ids.shape[0] == 1 or ids.shape[-1] < 2:
        return False
    head = ids[:, :, :-1]
    if not torch.equal(head, head[:1].expand_as(head)):
        return False
    for value in features.values():
        if isinstance(value, list):  # positions per row
            return False
        if isinstance(value, slice) and value.stop > ids.shape[-1] - 1:
            return False
        if isinstance(value, torch.Tensor) and not torch.equal(value, value[:1].expand_as(value)):
            return False
    return True


def stack_prompts(prompts: Sequence[Prompt]) -> torch.Tensor:
    lengths = {p.length for p in prompts}
    if len(lengths) != 1:
        raise ValueError(f"batched prompts must have one length, got {sorted(lengths)}")
    return torch.from_numpy(np.stack([p.ids for p in prompts]))


class AnswerStream:
    """One answer's decoding state: its prompt rows, the rules that end it, what it feeds next.

    The model is run by a driver: `decode()` for one answer, `omni.batching.TalkerBatch` for
    several answers sharing each step. Per step the driver passes this answer's logits to
    `pick`, then feeds `next_ids()` to the answer's rows.
    """

    def __init__(self, model, prompts: Sequence[Prompt], plan: Plan,
                 options: DecodingOptions | None = None) -> None:
        options = options or DecodingOptions()
        options.text.check()
        options.audio.check()
        self.ids = stack_prompts(prompts).to(model.device)  # [rows, 8, prompt length]
        self.rows = self.ids.shape[0]
        if plan.text_row >= self.rows or (plan.speaks and plan.audio_row >= self.rows):
            raise ValueError(f"plan {plan} needs more than the {self.rows} prompt row(s) given")
        self.budget = min(options.max_steps, model.config.block_size - self.ids.shape[-1])
        if self.budget < 1:
            raise ValueError(f"a {self.ids.shape[-1]}-token prompt leaves no room in the "
                             f"{model.config.block_size}-token context")
        self.plan = plan
        self.options = options
        self.generator = None
        if options.seed >= 0:
            self.generator = torch.Generator(device=model.device).manual_seed(options.seed)
        self.vocab = model.config.vocab
        self._pad_audio = torch.tensor(
            [self.vocab.audio_id(PAD_A, layer) for layer in range(AUDIO_LAYERS)],
            device=model.device)
        self._layer_shift = self.vocab.audio_id(0, torch.arange(AUDIO_LAYERS,
                                                                device=model.device))
        self.index = 0  # steps yielded
        self.text_ended = False
        self._fed: tuple[int, torch.Tensor | None] | None = None

    @property
    def finished(self) -> bool:
        """The context or max_steps leaves no room for another step."""
        return self.index >= self.budget

    @torch.inference_mode()
    def logits(self, model, hidden: torch.Tensor) -> tuple[torch.Tensor | None,
                                                            torch.Tensor | None]:
        """This answer's text and audio logits from its rows' hidden states [rows, H]; only
        the slices `pick` samples are computed."""
        text = None if self.text_ended else model.text_logits(hidden[self.plan.text_row])
        audio = model.audio_logits(hidden[self.plan.audio_row]) if self.plan.speaks else None
        return text, audio

    @torch.inference_mode()
    def pick(self, text_logits: torch.Tensor | None,
             audio_logits: torch.Tensor | None) -> Step | None:
        """Sample this step (pad_t once the text has ended); None when a stop rule ends it."""
        text = self.vocab.pad_t
        if not self.text_ended:
            text = int(sample(text_logits, self.options.text, self.generator))
        audio = None
        if self.plan.speaks:
            audio = sample(audio_logits, self.options.audio, self.generator)
            # Layer 6's end-of-audio: every frame is complete. As in the reference, the
            # prefill step's audio is not checked.
            if self.index > 0 and int(audio[-1]) == EOA:
                return None
        elif text == self.vocab.eot:
            return None
        step = Step(self.index, None if self.text_ended else text,
                    None if audio is None else audio.cpu().numpy())
        self.text_ended = self.text_ended or text == self.vocab.eot
        self._fed = (text, audio)
        self.index += 1
        return step

    def next_ids(self) -> torch.Tensor:
        """[rows, 8]: the last step's text to every row, its audio to the audio row."""
        text, audio = self._fed
        ids = self._pad_audio.new_empty((self.rows, STREAMS))
        ids[:, :AUDIO_LAYERS] = self._pad_audio
        ids[:, TEXT_STREAM] = text
        if audio is not None:
            ids[self.plan.audio_row, :AUDIO_LAYERS] = audio + self._layer_shift
        return ids


def decode(
    model,
    prompts: Sequence[Prompt],
    plan: Plan,
    options: DecodingOptions | None = None,
    features: dict | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[Step]:
    """Yield one `Step` per generated position until a stop rule, max_steps or `cancel`.

    `features` holds the embed() keywords: audio_features [B, F, dim] and audio_positions,
    image_features and image_positions.
    """
    stream = AnswerStream(model, prompts, plan, options)
    talker = Talker(model)
    # No inference_mode around the loop: it would stay on in the caller between yields.
    hidden = talker.prefill(stream.ids, **(features or {}))
    while cancel is None or not cancel.is_set():
        step = stream.pick(*stream.logits(model, hidden))
        if step is None:
            return
        yield step
        if stream.finished:
            return
        hidden = talker.step(stream.next_ids())


class FrameAssembler:
    """Per-step audio tokens (layer L lagging by L + 1 steps) -> whole 7-token frames.

    Frame k is complete at step k + `layout.FRAME_DELAY` (7), when layer 6 emits its token.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._step = 0
        self._open: dict[int, np.ndarray] = {}

    def push(self, tokens: np.ndarray) -> np.ndarray | None:
        """Take one step's 7 tokens; return the frame this step completed, if any."""
        for layer in range(AUDIO_LAYERS):
            frame = frame_at_step(layer, self._step)
            if frame is not None:
                self._open.setdefault(frame, np.empty(AUDIO_LAYERS, np.int64))[layer] = \
                    tokens[layer]
        completed = frame_at_step(AUDIO_LAYERS - 1, self._step)
        self._step += 1
        return None if completed is None else self._open.pop(completed)
