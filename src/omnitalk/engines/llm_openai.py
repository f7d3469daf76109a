"""Any OpenAI-compatible server (vLLM, llama.cpp server, Ollama...): streaming chat completions."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator

import httpx

from omnitalk.engines.base import ChatMessage, EngineError, LLMConfig


class OpenAICompatibleLLM:
    def __init__(self, config: LLMConfig | None = None) -> None:
        self.config = config or LLMConfig()
        if not self.config.model:
            raise EngineError("the openai backend needs a model name (--llm-model NAME)")
        self._url = self.config.base_url.rstrip("/") + "/chat/completions"
        api_key = self.config.api_key or os.environ.get("OPENAI_API_KEY", "")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        timeout = httpx.Timeout(self.config.timeout_s, connect=min(5.0, self.config.timeout_s))
        self._client = httpx.Client(headers=headers, timeout=timeout)

    def warm_up(self, messages: list[ChatMessage]) -> None:
        """Nothing to warm locally; the server keeps its own caches."""

    def stream_chat(
        self,
        messages: list[ChatMessage],
        cancel: threading.Event | None = None,
        max_tokens: int | None = None,
    ) -> Iterator[str]:
        body = {
            "model": self.config.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": max_tokens or self.config.max_tokens,
            "temperature": self.config.temperature,
            "stream": True,
        }
        try:
            with self._client.stream("POST", self._url, json=body) as response:
                if response.status_code >= 400:
                    detail = response.read()[:500].decode("utf-8", "replace")
                    raise EngineError(
                        f"LLM endpoint {self._url} answered HTTP {response.status_code}: {detail}"
                    )
                for line in response.iter_lines():
                    if cancel is not None and cancel.is_set():
                        return
                    delta = _parse_sse_delta(line)
                    if delta is None:
                        return
                    if delta:
                        yield delta
        except httpx.TimeoutException:
            raise EngineError(
                f"LLM endpoint {self._url} timed out after {self.config.timeout_s:g} s"
            ) from None
        except httpx.HTTPError as error:
            raise EngineError(f"LLM endpoint {self._url} is unreachable: {error}") from None


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
