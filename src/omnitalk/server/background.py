"""Run the real server (uvicorn + the app) in a background thread: for benchmarks and tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from omnitalk.assistant import Assistant
from omnitalk.server.app import ServerConfig, create_app, uvicorn_config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(base: str, ready: Callable[[httpx.Response], bool], timeout_s: float = 120,
               headers: dict | None = None, gave_up: Callable[[], bool] = lambda: False) -> None:
    """Poll /readyz until `ready(response)` holds."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if ready(httpx.get(f"{base}/readyz", headers=headers, timeout=2)):
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or gave_up():
            raise TimeoutError(f"the server at {base} did not become ready")
        time.sleep(0.05)


@contextmanager
def serve_in_background(
    config: ServerConfig, load_assistant: Callable[[], Assistant], wait_ready: bool = True
) -> Iterator[str]:
    """Yields the base URL (http://host:port) once the server answers (and is ready)."""
    app = create_app(config, load_assistant)
    server = uvicorn.Server(uvicorn_config(app, config, log_level="warning"))
    thread = threading.Thread(target=server.run, name="omnitalk-server", daemon=True)
    thread.start()
    base = f"http://{config.host}:{config.port}"
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    try:
        wanted = {200} if wait_ready else {200, 503}
        wait_until(base, lambda r: r.status_code in wanted, headers=headers,
                   gave_up=lambda: not thread.is_alive())
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
