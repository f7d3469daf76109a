"""Any local Hugging Face causal LM: a model folder, or a .gguf file dequantised by transformers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from omnitalk.engines.base import ChatMessage, EngineError, LLMConfig
from omnitalk.engines.packaged import smollm2_gguf_path


class TransformersLLM:
    def __init__(self, config: LLMConfig | None = None) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError:
            raise EngineError(
                "the transformers backend needs `pip install -c constraints.txt "
                "'omnitalk[transformers]'`"
            ) from None
        self.config = config or LLMConfig()
        path = Path(self.config.model) if self.config.model else smollm2_gguf_path()
        if not path.exists():
            raise EngineError(f"model not found: {path}")
        folder, gguf = (path.parent, path.name) if path.suffix == ".gguf" else (path, None)
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
            self._model = AutoModelForCausalLM.from_pretrained(
                folder, gguf_file=gguf, dtype=torch.float32
            )
        except (OSError, ValueError) as error:
            raise EngineError(f"cannot load a causal LM from {path}: {error}") from None
        self._model.eval()
        self._torch = torch
        self._lock = threading.Lock()

    @property
    def prompt_limit(self) -> int:
        return self.config.context_tokens - self.config.max_tokens

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False))

    def warm_up(self, messages: list[ChatMessage]) -> None:
        for _ in self.stream_chat(messages, max_tokens=1):
            pass

    def stream_chat(
        self,
        messages: list[ChatMessage],
        cancel: threading.Event | None = None,
        max_tokens: int | None = None,
        deadline: Callable[[], float] | None = None,
    ) -> Iterator[str]:
        # `deadline` is not used: generate() runs its steps in a thread of its own.
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        class _Cancelled(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs) -> bool:
                return cancel is not None and cancel.is_set()

        inputs = self._tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )
        streamer = TextIteratorStreamer(
            self._tokenizer, skip_prompt=True, skip_special_tokens=True
        )
        sampling = self.config.temperature > 0
        kwargs = dict(
            **inputs,
            max_new_tokens=max_tokens or self.config.max_tokens,
            do_sample=sampling,
            temperature=self.config.temperature if sampling else None,
            top_p=None,
            top_k=None,
            streamer=streamer,
            stopping_criteria=StoppingCriteriaList([_Cancelled()]),
            pad_token_id=self._tokenizer.eos_token_id,
        )
        with self._lock:
            worker = threading.Thread(target=self._generate, kwargs=kwargs, daemon=True)
            worker.start()
            try:
                for text in streamer:
                    if cancel is not None and cancel.is_set():
                        break
                    if text:
                        yield text
            finally:
                worker.join()

    def _generate(self, **kwargs) -> None:
        with self._torch.inference_mode():
            self._model.generate(**kwargs)
