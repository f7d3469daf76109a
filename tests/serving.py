"""Run the real server (uvicorn + the FastAPI app) in a background thread for tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fakes import EnergyVAD, ScriptedASR, ScriptedLLM, SilentTTS

from omnitalk.agent.responder import CascadeResponder
from omnitalk.agent.session import Session
from omnitalk.assistant import Assistant
from omnitalk.config import AssistantConfig
from omnitalk.server.app import ServerConfig, create_app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(
    load_assistant: Callable[[], Assistant], wait_ready: bool = True, **config
) -> Iterator[str]:
    """Yields the base URL (http://127.0.0.1:PORT) of a server that is up (and ready)."""
    server_config = ServerConfig(port=free_port(), **config)
    app = create_app(server_config, load_assistant)
    server = uvicorn.Server(uvicorn.Config(
        app, host="127.0.0.1", port=server_config.port, log_level="warning",
        ws_max_size=2 * server_config.max_message_bytes,
    ))
    thread = threading.Thread(target=server.run, name="test-server", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server_config.port}"
    headers = {"Authorization": f"Bearer {server_config.api_key}"} if server_config.api_key else {}
    deadline = time.monotonic() + 120
    while True:
        try:
            status = httpx.get(f"{base}/readyz", headers=headers, timeout=2).status_code
            if status == 200 or (not wait_ready and status == 503):
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError("the test server did not become ready")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class FakeAssistant(Assistant):
    """The real Assistant API over scripted engines: the energy VAD hears any tone as speech."""

    @classmethod
    def build(cls, reply: str = "Sure. Here is a short answer.", transcript: str = "hello there",
              llm: ScriptedLLM | None = None) -> FakeAssistant:
        responder = CascadeResponder(llm or ScriptedLLM(reply), SilentTTS())
        return cls(AssistantConfig(), ScriptedASR(transcript), responder, {})

    def new_session(self, on_event=None) -> Session:
        return Session(EnergyVAD(), self.asr, self.responder, on_event=on_event)
