"""Several replies decoded in one llama.cpp batch: one context, one sequence per reply.

A decode step of a small model on a CPU is bound by reading its weights, so adding rows costs
little: on SmolLM2-135M Q4_1 here a step took 8.5 ms for one sequence and 36 ms for eight
(4.5 ms each). `BatchedDecoder` runs one loop thread; each step puts one token of every reply
being written (and the next chunk of a new reply's prompt) into one `llama_decode`, inside the
process's scheduler at the earliest deadline among them (`engines/scheduler.py`). Sampling is
llama.cpp's own chain (top-k, top-p, min-p, temperature), per sequence.

Each sequence keeps the tokens its KV cache holds, so a conversation's next turn reuses its
prefix; a reply goes to the free sequence that shares the most of its prompt.
"""

from __future__ import annotations

import codecs
import ctypes
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import llama_cpp as lib

from omnitalk.engines.base import EngineError
from omnitalk.engines.scheduler import CPU, NOT_NEEDED

BATCH_TOKENS = 512  # tokens one llama_decode may take: prompt chunks are cut to fit


@dataclass
class _Reply:
    tokens: list[int]  # the prompt
    max_tokens: int
    temperature: float
    deadline: Callable[[], float]
    cancel: threading.Event | None  # the caller's
    out: queue.Queue = field(default_factory=queue.Queue)  # text, an error, or None at the end
    dropped: threading.Event = field(default_factory=threading.Event)  # the caller stopped reading
    sequence: int = -1
    unread: list[int] = field(default_factory=list)  # tokens still to evaluate
    made: int = 0
    sampler: object = None
    text: codecs.IncrementalDecoder = field(
        default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))


    @property
    def cancelled(self) -> bool:
        return self.dropped.is_set() or (self.cancel is not None and self.cancel.is_set())


class BatchedDecoder:
    def __init__(self, llama, sequences: int, context_tokens: int, threads: int) -> None:
        """`llama`: a loaded `llama_cpp.Llama` (kept: its model must outlive this context);
        each of `sequences` gets `context_tokens`."""
        self._llama = llama
        model = llama._model.model
        self._vocab = lib.llama_model_get_vocab(model)
        params = lib.llama_context_default_params()
        params.n_ctx = sequences * context_tokens
        params.n_batch = params.n_ubatch = BATCH_TOKENS
        params.n_seq_max = sequences
        params.kv_unified = True  # one cache for all: a shared prefix is copied, not duplicated
        params.n_threads = params.n_threads_batch = threads
        self._ctx = lib.llama_init_from_model(model, params)
        if not self._ctx:
            raise EngineError(f"llama.cpp could not make a context of {sequences} sequences x "
                              f"{context_tokens} tokens")
        self._memory = lib.llama_get_memory(self._ctx)
        self._batch = lib.llama_batch_init(BATCH_TOKENS, 0, 1)
        self.context_tokens = context_tokens
        self._held: list[list[int]] = [[] for _ in range(sequences)]  # what each KV cache holds
        self._busy = [False] * sequences
        self._waiting: list[_Reply] = []
        self._writing: list[_Reply] = []
        self._changed = threading.Condition()
        threading.Thread(target=self._loop, name="llama-batch", daemon=True).start()

    def generate(self, tokens: list[int], max_tokens: int, temperature: float,
                 cancel: threading.Event | None, deadline: Callable[[], float]) -> Iterator[str]:
        """The reply's text, piece by piece, as the loop writes it."""
        if len(tokens) + 1 > self.context_tokens:
            raise EngineError(f"the prompt does not fit the LLM's context window of "
                              f"{self.context_tokens} tokens: it takes {len(tokens)}")
        reply = _Reply(tokens, max_tokens, temperature, deadline, cancel)
        with self._changed:
            self._waiting.append(reply)
            self._changed.notify_all()
        CPU.nudge()  # a step waiting for its turn now counts this reply's deadline too
        try:
            while True:
                try:
                    item = reply.out.get(timeout=0.05)
                except queue.Empty:
                    if reply.cancelled:
                        return
                    continue
                if item is None or reply.cancelled:
                    return
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            reply.dropped.set()  # the loop lets it go at its next step
            with self._changed:
                self._changed.notify_all()

    def share_prefix(self) -> None:
        """Copy one sequence's cache (a warmed-up system prompt) to every idle sequence."""
        # Every decode runs in a CPU turn: holding one, no decode touches the cache meanwhile.
        with CPU.turn(0.0, "llm"), self._changed:
            idle = [s for s, busy in enumerate(self._busy) if not busy]
            if not idle:
                return
            source = max(idle, key=lambda s: len(self._held[s]))
            held = self._held[source]
            for target in idle:
                if target != source and held:
                    lib.llama_memory_seq_rm(self._memory, target, 0, -1)
                    lib.llama_memory_seq_cp(self._memory, source, target, 0, len(held))
                    self._held[target] = list(held)

    # ----------------------------------------------------------------------------- the loop

    def _loop(self) -> None:
        while True:
            writing: list[_Reply] = []
            try:
                with self._changed:
                    self._drop_cancelled()
                    self._admit()
                    while not self._writing:
                        self._changed.wait()
                        self._drop_cancelled()
                        self._admit()
                    writing = list(self._writing)
                rows = self._fill_batch(writing)
                with CPU.turn(self._deadline, "llm"):
                    if lib.llama_decode(self._ctx, self._batch) != 0:
                        raise EngineError("llama.cpp found no room in its cache for the batch")
                    sampled = [(reply, lib.llama_sampler_sample(reply.sampler, self._ctx, row))
                               for reply, row in rows if row >= 0]
                for reply, token in sampled:
                    self._take(reply, token)
            except Exception as error:  # the replies in hand fail; the loop goes on
                failure = (error if isinstance(error, EngineError)
                           else EngineError(f"llama.cpp failed: {error}"))
                for reply in writing:
                    self._finish(reply, failure)

    def _deadline(self) -> float:
        """The step is needed when its most urgent reply is, counting replies that wait for a
        sequence (they join at the next step)."""
        with self._changed:
            replies = self._writing + self._waiting
        return min((reply.deadline() for reply in replies if not reply.cancelled),
                   default=NOT_NEEDED)

    def _fill_batch(self, writing: list[_Reply]) -> list[tuple[_Reply, int]]:
        """One token per reply being written, then prompt chunks while room is left; returns
        (reply, batch row of its logits or -1) for each reply in the batch."""
        batch, rows, count = self._batch, [], 0
        for reply in sorted(writing, key=lambda r: len(r.unread)):  # decoding rows first
            room = BATCH_TOKENS - count
            if room <= 0:
                break
            chunk, reply.unread = reply.unread[:room], reply.unread[room:]
            held = self._held[reply.sequence]
            for token in chunk:
                batch.token[count] = token
                batch.pos[count] = len(held)
                batch.n_seq_id[count] = 1
                batch.seq_id[count][0] = reply.sequence
                batch.logits[count] = False
                held.append(token)
                count += 1
            last = count - 1 if not reply.unread else -1
            if last >= 0:
                batch.logits[last] = True
            rows.append((reply, last))
        batch.n_tokens = count
        return rows

    def _take(self, reply: _Reply, token: int) -> None:
        reply.made += 1
        held = self._held[reply.sequence]
        if lib.llama_vocab_is_eog(self._vocab, token) or reply.cancelled:
            self._finish(reply, None)
            return
        text = reply.text.decode(self._piece(token))
        if text:
            reply.out.put(text)
        if reply.made >= reply.max_tokens or len(held) + 1 >= self.context_tokens:
            self._finish(reply, None)
        else:
            reply.unread = [token]

    def _piece(self, token: int) -> bytes:
        size = 64
        while True:
            buffer = ctypes.create_string_buffer(size)
            length = lib.llama_token_to_piece(self._vocab, token, buffer, size, 0, False)
            if length >= 0:
                return buffer.raw[:length]
            size = -length

    def _admit(self) -> None:
        """Give waiting replies free sequences, each the one sharing most of its prompt."""
        while self._waiting and not all(self._busy):
            reply = min(self._waiting, key=lambda r: r.deadline())  # the most urgent first
            self._waiting.remove(reply)
            free = [s for s, busy in enumerate(self._busy) if not busy]
            sequence = max(free, key=lambda s: _shared(self._held[s], reply.tokens))
            keep = min(_shared(self._held[sequence], reply.tokens), len(reply.tokens) - 1)
            if not lib.llama_memory_seq_rm(self._memory, sequence, keep, -1):
                # Some caches (recurrent models) cannot drop a tail: start the sequence afresh.
                lib.llama_memory_seq_rm(self._memory, sequence, 0, -1)
                keep = 0
            del self._held[sequence][keep:]
            self._busy[sequence] = True
            reply.sequence, reply.unread = sequence, reply.tokens[keep:]
            reply.sampler = _sampler(reply.temperature)
            self._writing.append(reply)

    def _drop_cancelled(self) -> None:
        for reply in [r for r in self._waiting if r.cancelled]:
            self._waiting.remove(reply)
            reply.out.put(None)
        for reply in [r for r in self._writing if r.cancelled]:
            self._finish(reply, None)

    def _finish(self, reply: _Reply, error: Exception | None) -> None:
        with self._changed:
            if reply in self._writing:
                self._writing.remove(reply)
                self._busy[reply.sequence] = False
                if error is not None:  # a failed decode: what the cache holds is unknown
                    lib.llama_memory_seq_rm(self._memory, reply.sequence, 0, -1)
                    self._held[reply.sequence] = []
                lib.llama_sampler_free(reply.sampler)
            tail = reply.text.decode(b"", final=True)
            if tail:
                reply.out.put(tail)
            reply.out.put(error)  # None: the end; an error ends it too
            self._changed.notify_all()


def _sampler(temperature: float):
    """llama-cpp-python's chat defaults: top-k 40, top-p 0.95, min-p 0.05, then temperature."""
    chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
    if temperature <= 0:
        lib.llama_sampler_chain_add(chain, lib.llama_sampler_init_greedy())
        return chain
    for stage in (lib.llama_sampler_init_top_k(40), lib.llama_sampler_init_top_p(0.95, 1),
                  lib.llama_sampler_init_min_p(0.05, 1), lib.llama_sampler_init_temp(temperature),
                  lib.llama_sampler_init_dist(lib.LLAMA_DEFAULT_SEED)):
        lib.llama_sampler_chain_add(chain, stage)
    return chain


def _shared(held: list[int], tokens: list[int]) -> int:
    count = 0
    for a, b in zip(held, tokens, strict=False):
        if a != b:
            break
        count += 1
    return count
