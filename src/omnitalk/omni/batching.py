"""One decode step for every answer in progress: sessions share the talker's weight reads.

On a CPU a decode step is bound by reading the weights, so rows added to a step cost little
(`omnitalk bench omni --sessions 1,2,4` measures it). `TalkerBatch` runs one loop thread that
owns one KV cache for every answer in progress, each answer one or two rows of it:

- a new answer is prefilled alone (the cheap shared-prompt prefill of `Talker`), then its
  cache joins the batch's: caches of different lengths are left-padded to one length, the
  padding masked out, and every row keeps its own positions (RoPE rotates by position, so a
  cached key needs no change);
- each step computes the batch's hidden states in one forward, then the text and audio head
  slices of every answer that samples them in one product each, then each answer samples;
- an answer that ends, is cancelled or whose reader goes away leaves at once, and padding that
  no row needs any more is cut off.

Tokens are those of `decoding.decode` for each answer alone (a test checks it in fp32); with
int8's dynamic kernel the rows of a step share one activation scale, so they may differ a little.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from omnitalk.omni.decoding import AnswerStream, Plan, Step, Talker
from omnitalk.omni.layout import Prompt
from omnitalk.omni.settings import DecodingOptions

log = logging.getLogger(__name__)

_END = object()


@dataclass(eq=False)
class _Answer:
    stream: AnswerStream
    features: dict
    cancel: threading.Event | None
    out: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    abandoned: bool = False  # its reader closed the iterator

    @property
    def leaving(self) -> bool:
        return self.abandoned or (self.cancel is not None and self.cancel.is_set())


class _PaddedCache:
    """The batch's KV cache, left-padded to one length; `mask` [rows, length] is 1 where a row
    holds a real position, `positions` [rows] is each row's next position."""

    def __init__(self) -> None:
        self.cache = None
        self.mask = torch.zeros(0, 0, dtype=torch.long)
        self.positions = torch.zeros(0, dtype=torch.long)

    @property
    def rows(self) -> int:
        return self.mask.shape[0]

    def join(self, cache, length: int) -> None:
        """Add the rows of a prefilled cache (every row `length` positions long)."""
        rows = cache.layers[0].keys.shape[0]
        mask = torch.ones(rows, length, dtype=torch.long)
        if self.cache is None:
            self.cache, self.mask = cache, mask
            self.positions = torch.full((rows,), length, dtype=torch.long)
            return
        width = max(self.mask.shape[1], length)
        for ours, theirs in zip(self.cache.layers, cache.layers, strict=True):
            ours.keys = torch.cat([_left_pad(ours.keys, width), _left_pad(theirs.keys, width)])
            ours.values = torch.cat([_left_pad(ours.values, width),
                                     _left_pad(theirs.values, width)])
        self.mask = torch.cat([F.pad(self.mask, (width - self.mask.shape[1], 0)),
                               F.pad(mask, (width - length, 0))])
        self.positions = torch.cat([self.positions, torch.full((rows,), length)])

    def keep(self, rows: list[int]) -> None:
        """Keep only these rows; cut the padding columns no kept row uses."""
        if not rows:
            self.__init__()
            return
        if rows == list(range(self.rows)):
            return
        index = torch.tensor(rows)
        self.mask, self.positions = self.mask[index], self.positions[index]
        unused = int(self.mask.any(dim=0).int().argmax())  # leading all-padding columns
        self.mask = self.mask[:, unused:]
        for layer in self.cache.layers:
            layer.keys = layer.keys[index, :, unused:]
            layer.values = layer.values[index, :, unused:]

    def step(self, model, ids: torch.Tensor) -> torch.Tensor:
        """ids [rows, 8] for each row's next position -> hidden states [rows, H]."""
        self.mask = F.pad(self.mask, (0, 1), value=1)
        embeds = model.embed(ids[:, :, None])
        out = model.backbone(inputs_embeds=embeds, cache=self.cache, use_cache=True,
                             attention_mask=self.mask, position_ids=self.positions[:, None])
        self.positions = self.positions + 1
        return out.last_hidden_state[:, -1]


def _left_pad(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """[rows, heads, length, dim] -> [rows, heads, width, dim], zeros in front."""
    return F.pad(tensor, (0, 0, width - tensor.shape[-2], 0))


class TalkerBatch:
    """Decodes any number of answers at once on one model; `decode` is `decoding.decode` for
    one of them. Thread-safe: each session calls `decode` from its own thread."""

    def __init__(self, model) -> None:
        self.model = model
        self._wake = threading.Condition()
        self._joining: list[_Answer] = []
        self._thread: threading.Thread | None = None
        self.widest = 0  # the most answers one step has served (for tests and benchmarks)

    def decode(self, prompts: Sequence[Prompt], plan: Plan,
               options: DecodingOptions | None = None, features: dict | None = None,
               cancel: threading.Event | None = None) -> Iterator[Step]:
        answer = _Answer(AnswerStream(self.model, prompts, plan, options), features or {},
                         cancel)
        with self._wake:
            self._joining.append(answer)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="talker-batch",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()
        return self._read(answer)

    @staticmethod
    def _read(answer: _Answer) -> Iterator[Step]:
        try:
            while (item := answer.out.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            answer.abandoned = True

    # ------------------------------------------------------------------ the loop thread

    def _loop(self) -> None:
        answers: list[_Answer] = []
        cache = _PaddedCache()
        hidden = torch.zeros(0)
        while True:
            with self._wake:
                while not self._joining and not answers:
                    self._wake.wait()
                joining, self._joining = self._joining, []
            try:
                with torch.inference_mode():
                    for answer in joining:
                        if answer.leaving:
                            answer.out.put(_END)
                            continue
                        talker = Talker(self.model)
                        first = talker.prefill(answer.stream.ids, **answer.features)
                        cache.join(talker.cache, answer.stream.ids.shape[-1])
                        hidden = torch.cat([hidden, first]) if answers else first
                        answers.append(answer)
                    self.widest = max(self.widest, len(answers))
                    answers = self._pick(answers, hidden, cache)
                    if answers:
                        ids = torch.cat([answer.stream.next_ids() for answer in answers])
                        hidden = cache.step(self.model, ids)
            except Exception as error:  # a model failure ends the answers in progress
                log.exception("batched talker step failed")
                for answer in answers + joining:
                    answer.out.put(error)
                answers, cache = [], _PaddedCache()

    def _pick(self, answers: list[_Answer], hidden: torch.Tensor,
              cache: _PaddedCache) -> list[_Answer]:
        """Sample every answer's step from one product per head slice; returns those that go
        on, their rows kept in the cache."""
        offsets, row = [], 0
        for answer in answers:
            offsets.append(row)
            row += answer.stream.rows
        texts = [(i, offsets[i] + a.stream.plan.text_row) for i, a in enumerate(answers)
                 if not a.stream.text_ended and not a.leaving]
        audios = [(i, offsets[i] + a.stream.plan.audio_row) for i, a in enumerate(answers)
                  if a.stream.plan.speaks and not a.leaving]
        text_logits = _sliced(self.model.text_logits, hidden, texts)
        audio_logits = _sliced(self.model.audio_logits, hidden, audios)
        going, rows = [], []
        for i, answer in enumerate(answers):
            step = None
            if not answer.leaving:
                step = answer.stream.pick(text_logits.get(i), audio_logits.get(i))
            if step is not None:
                answer.out.put(step)
            if step is None or answer.stream.finished:
                answer.out.put(_END)
                continue
            going.append(answer)
            rows.extend(range(offsets[i], offsets[i] + answer.stream.rows))
        cache.keep(rows)
        return going


def _sliced(head, hidden: torch.Tensor, picks: list[tuple[int, int]]) -> dict[int, torch.Tensor]:
    """One head product for the rows in `picks` ((answer, row) pairs) -> logits per answer."""
    if not picks:
        return {}
    logits = head(hidden[[row for _, row in picks]])
    return {answer: logits[n] for n, (answer, _) in enumerate(picks)}
