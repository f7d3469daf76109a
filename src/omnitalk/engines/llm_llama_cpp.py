"""A GGUF model through llama-cpp-python; the packaged SmolLM2-135M-Instruct by default.

Chosen as the default local backend by measurement (`omnitalk bench llm`): on the packaged model
it loads in under a second (transformers: about 20 s) and streams several times faster.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from omnitalk.engines.base import ChatMessage, EngineError, LLMConfig
from omnitalk.engines.packaged import smollm2_gguf_path


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
        path = Path(self.config.model) if self.config.model else smollm2_gguf_path()
        if not path.is_file():
            raise EngineError(f"GGUF model not found: {path}")
        try:
            self._llama = Llama(
                model_path=str(path),
                n_ctx=self.config.context_tokens,
                n_threads=self.config.threads,
                n_threads_batch=self.config.threads,
                verbose=False,
            )
        except ValueError as error:
            raise EngineError(f"cannot load GGUF model {path}: {error}") from None
        # One llama context serves one generation at a time; sessions sharing it take turns.
        self._lock = threading.Lock()

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
    ) -> Iterator[str]:
        with self._lock:
            if cancel is not None and cancel.is_set():
                return  # cancelled while it waited for the context: evaluate nothing
            try:
                stream = self._llama.create_chat_completion(
                    messages=[{"role": m.role, "content": m.content} for m in messages],
                    max_tokens=max_tokens or self.config.max_tokens,
                    temperature=self.config.temperature,
                    stream=True,
                )
                try:
                    for chunk in stream:
                        if cancel is not None and cancel.is_set():
                            return
                        delta = chunk["choices"][0]["delta"].get("content")
                        if delta:
                            yield delta
                finally:
                    stream.close()
            except ValueError as error:  # how llama.cpp reports a prompt longer than its context
                raise EngineError(
                    f"the prompt does not fit the LLM's context window of "
                    f"{self.config.context_tokens} tokens: {error}"
                ) from None
