"""A GGUF model through llama-cpp-python; the packaged SmolLM2-135M-Instruct by default.

Chosen as the default local backend by measurement (`omnitalk bench llm`): on the packaged model
it loads in under a second (transformers: about 20 s) and streams several times faster.

Sessions that reply at the same time each get a llama.cpp context of their own (up to
`config.parallel`; the weights are memory-mapped once and shared), so their replies interleave
token by token, earliest deadline first (`engines/scheduler.py`), instead of one whole reply
waiting for another. A reply goes to the free context that last saw the longest start of its
conversation, whose KV cache then spares it most of the prompt.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from omnitalk.engines.base import ChatMessage, EngineError, LLMConfig
from omnitalk.engines.packaged import smollm2_gguf_path
from omnitalk.engines.scheduler import CPU

# llama-cpp-python silences a load by pointing the process's stdout and stderr at /dev/null and
# back: two loads at once (in any thread) can leave them pointing there for good.
_LOADING = threading.Lock()


class LlamaCppLLM:
    def __init__(self, config: LLMConfig | None = None) -> None:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise EngineError(
                "llama-cpp-python is not installed: run `make setup` (it builds it with flags "
                "for this CPU) or choose `--llm transformers` / `--llm openai`"
            ) from None
        self.config = config or LLMConfig()
        self._path = Path(self.config.model) if self.config.model else smollm2_gguf_path()
        if not self._path.is_file():
            raise EngineError(f"GGUF model not found: {self._path}")
        self._llama_class = Llama
        self._contexts = [_Context(self._load())]  # more are made when replies overlap
        self._pool_changed = threading.Condition()

    def _load(self):
        try:
            with _LOADING:
                return self._llama_class(
                    model_path=str(self._path),
                    n_ctx=self.config.context_tokens,
                    n_threads=self.config.threads,
                    n_threads_batch=self.config.threads,
                    verbose=False,
                )
        except ValueError as error:
            raise EngineError(f"cannot load GGUF model {self._path}: {error}") from None

    @property
    def _llama(self):
        return self._contexts[0].llama  # the tokenizer is the same in every context

    @property
    def prompt_limit(self) -> int:
        return self.config.context_tokens - self.config.max_tokens

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def warm_up(self, messages: list[ChatMessage]) -> None:
        """Evaluate the prompt once so its prefix (the system prompt) stays in the KV cache."""
        for _ in self.stream_chat(messages, max_tokens=1):
            pass

    def stream_chat(
        self,
        messages: list[ChatMessage],
        cancel: threading.Event | None = None,
        max_tokens: int | None = None,
        deadline: Callable[[], float] | None = None,
    ) -> Iterator[str]:
        """`deadline()`: when this reply's next words are needed (default: now, when asked)."""
        context = self._take_context(messages)
        reply: list[str] = []
        try:
            if cancel is not None and cancel.is_set():
                return  # cancelled while it waited for a context: evaluate nothing
            try:
                stream = context.llama.create_chat_completion(
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    max_tokens=max_tokens or self.config.max_tokens,
                    temperature=self.config.temperature,
                    stream=True,
                )
                try:
                    # The first step evaluates the prompt; each later one writes a token.
                    for chunk in CPU.steps(stream, deadline or time.perf_counter, "llm"):
                        if cancel is not None and cancel.is_set():
                            return
                        delta = chunk["choices"][0]["delta"].get("content")
                        if delta:
                            reply.append(delta)
                            yield delta
                finally:
                    stream.close()
            except ValueError as error:  # how llama.cpp reports a prompt longer than its context
                raise EngineError(
                    f"the prompt does not fit the LLM's context window of "
                    f"{self.config.context_tokens} tokens: {error}"
                ) from None
        finally:
            context.seen = [*messages, ChatMessage("assistant", "".join(reply))]
            self._give_back(context)

    def _take_context(self, messages: list[ChatMessage]) -> _Context:
        """The free context whose last conversation shares the most messages with this one;
        a new one if none is free and `parallel` allows, else the first to be given back."""
        with self._pool_changed:
            while True:
                free = [c for c in self._contexts if not c.busy]
                if free:
                    context = max(free, key=lambda c: (_shared(c.seen, messages), -c.used))
                    break
                if len(self._contexts) < self.config.parallel:
                    context = _Context(None)
                    self._contexts.append(context)
                    break
                self._pool_changed.wait()
            context.busy = True
        if context.llama is None:  # loaded outside the pool's lock: others may go on
            try:
                context.llama = self._load()
            except BaseException:
                with self._pool_changed:
                    self._contexts.remove(context)
                    self._pool_changed.notify_all()
                raise
        return context

    def _give_back(self, context: _Context) -> None:
        with self._pool_changed:
            context.busy = False
            context.used = time.monotonic()
            self._pool_changed.notify_all()


class _Context:
    """One llama.cpp context (its own KV cache) and the conversation it last evaluated."""

    def __init__(self, llama) -> None:
        self.llama = llama
        self.busy = False
        self.used = 0.0
        self.seen: list[ChatMessage] = []


def _shared(seen: list[ChatMessage], messages: list[ChatMessage]) -> int:
    count = 0
    for a, b in zip(seen, messages, strict=False):
        if a != b:
            break
        count += 1
    return count
