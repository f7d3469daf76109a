"""A GGUF model through llama-cpp-python; the packaged SmolLM2-135M-Instruct by default.

Chosen as the default local backend by measurement (`omnitalk bench llm`): on the packaged model
it loads in under a second (transformers: about 20 s) and streams several times faster.

Replies of sessions that answer at the same time are decoded together, one sequence each in one
batch (`llama_batch.py`; up to `config.parallel` at once), instead of one whole reply waiting
for another. The prompt is made with the model's own chat template, as llama-cpp-python's
`create_chat_completion` makes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from omnitalk.engines.base import ChatMessage, EngineError, LLMConfig
from omnitalk.engines.packaged import smollm2_gguf_path

# llama-cpp-python silences a load by pointing the process's stdout and stderr at /dev/null and
# back: two loads at once (in any thread) can leave them pointing there for good.
_LOADING = threading.Lock()


class LlamaCppLLM:
    def __init__(self, config: LLMConfig | None = None) -> None:
        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            from omnitalk.engines.llama_batch import BatchedDecoder
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
            with _LOADING:
                # The model, its tokenizer and chat template; its own context stays unused.
                self._llama = Llama(model_path=str(path), n_ctx=64, n_batch=64,
                                    n_threads=self.config.threads, verbose=False)
        except ValueError as error:
            raise EngineError(f"cannot load GGUF model {path}: {error}") from None
        template = self._llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise EngineError(f"{path} has no chat template (tokenizer.chat_template)")
        model = self._llama._model
        self._format = Jinja2ChatFormatter(
            template=template, eos_token=model.token_get_text(model.token_eos()),
            bos_token=model.token_get_text(model.token_bos()),
            stop_token_ids=[model.token_eos()])
        self._decoder = BatchedDecoder(self._llama, self.config.parallel,
                                       self.config.context_tokens, self.config.threads)

    @property
    def prompt_limit(self) -> int:
        return self.config.context_tokens - self.config.max_tokens

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def warm_up(self, messages: list[ChatMessage]) -> None:
        """Evaluate the prompt once, and give every sequence its cache: the system prompt is
        then evaluated already for the first reply of every session."""
        for _ in self.stream_chat(messages, max_tokens=1):
            pass
        self._decoder.share_prefix()

    def stream_chat(
        self,
        messages: list[ChatMessage],
        cancel: threading.Event | None = None,
        max_tokens: int | None = None,
        deadline: Callable[[], float] | None = None,
    ) -> Iterator[str]:
        """`deadline()`: when this reply's next words are needed (default: now, when asked)."""
        prompt = self._format(messages=[{"role": m.role, "content": m.content}
                                        for m in messages])
        tokens = self._llama.tokenize(prompt.prompt.encode("utf-8"),
                                      add_bos=not prompt.added_special, special=True)
        return self._decoder.generate(tokens, max_tokens or self.config.max_tokens,
                                      self.config.temperature, cancel,
                                      deadline or time.perf_counter)
