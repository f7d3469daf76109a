"""Any OpenAI-compatible server (vLLM, llama.cpp server, Ollama...): streaming chat completions.

Requests run on an asyncio loop of the engine's own, so that a cancel can end one at any point,
while connecting, while the server queues it (a busy single-slot server sends nothing yet) or
mid-stream: the task is cancelled, its connection closed, and the server sees the client leave
and stops generating. A blocking client could only notice a cancel between two tokens.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import threading
from collections.abc import Callable, Iterator

import httpx

from omnitalk.engines.base import ChatMessage, EngineError, LLMConfig

# How often a waiting reader looks at its cancel flag.
CANCEL_POLL_S = 0.01
_END = object()


class OpenAICompatibleLLM:
    def __init__(self, config: LLMConfig | None = None) -> None:
        self.config = config or LLMConfig()
        if not self.config.model:
            raise EngineError("the openai backend needs a model name (--llm-model NAME)")
        self._url = self.config.base_url.rstrip("/") + "/chat/completions"
        api_key = self.config.api_key or os.environ.get("OPENAI_API_KEY", "")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(self.config.timeout_s, connect=min(5.0, self.config.timeout_s))
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="llm-http", daemon=True).start()
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout)

    @property
    def prompt_limit(self) -> int:
        """From `context_tokens`: set it to the served model's window (vLLM's max_model_len)."""
        return self.config.context_tokens - self.config.max_tokens

    def count_tokens(self, text: str) -> int:
        # The server's tokenizer is unknown here. English runs about 4 bytes a token and few
        # tokenizers spend more than one token per 3 bytes, so this errs on the high side.
        return -(-len(text.encode("utf-8")) // 3)

    def warm_up(self, messages: list[ChatMessage]) -> None:
        """Nothing to warm locally; the server keeps its own caches."""

    def stream_chat(
        self,
        messages: list[ChatMessage],
        cancel: threading.Event | None = None,
        max_tokens: int | None = None,
        deadline: Callable[[], float] | None = None,
    ) -> Iterator[str]:
        # `deadline` is not used: the server schedules its own work.
        body = {
            "model": self.config.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens or self.config.max_tokens,
            "temperature": self.config.temperature,
            "stream": True,
        }
        if cancel is not None and cancel.is_set():
            return
        deltas: queue.Queue = queue.Queue()
        request = asyncio.run_coroutine_threadsafe(self._stream(body, deltas), self._loop)
        try:
            while True:
                try:
                    delta = deltas.get(timeout=CANCEL_POLL_S)
                except queue.Empty:
                    delta = None
                if cancel is not None and cancel.is_set():
                    return
                if delta is _END:
                    break
                if delta is not None:
                    yield delta
            request.result()  # the stream's own error, if it failed
        finally:
            request.cancel()  # still streaming (cancelled or abandoned): close it

    async def _stream(self, body: dict, deltas: queue.Queue) -> None:
        try:
            async with self._client.stream("POST", self._url, json=body) as response:
                if response.status_code >= 400:
                    detail = (await response.aread())[:500].decode("utf-8", "replace")
                    raise EngineError(
                        f"LLM endpoint {self._url} answered HTTP {response.status_code}: {detail}"
                    )
                async for line in response.aiter_lines():
                    delta = _parse_sse_delta(line)
                    if delta is None:
                        return
                    if delta:
                        deltas.put(delta)
        except httpx.TimeoutException:
            raise EngineError(
                f"LLM endpoint {self._url} timed out after {self.config.timeout_s:g} s"
            ) from None
        except httpx.HTTPError as error:
            raise EngineError(f"LLM endpoint {self._url} is unreachable: {error}") from None
        finally:
            deltas.put(_END)


def _parse_sse_delta(line: str) -> str | None:
    """The content delta in one server-sent-events line: '' to skip, None at the end."""
    if not line.startswith("data:"):
        return ""
    payload = line[len("data:") :].strip()
    if payload == "[DONE]":
        return None
    try:
        event = json.loads(payload)
    except json.JSONDecodeError:
        raise EngineError(f"LLM endpoint sent a malformed event: {payload[:200]!r}") from None
    if "error" in event:
        raise EngineError(f"LLM endpoint reported an error: {event['error']}")
    choices = event.get("choices") or [{}]
    return (choices[0].get("delta") or {}).get("content") or ""
