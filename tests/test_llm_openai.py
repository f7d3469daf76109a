"""OpenAICompatibleLLM against a real local HTTP server streaming Server-Sent Events."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from omnitalk.engines.base import ChatMessage, EngineError, LLMConfig
from omnitalk.engines.llm_openai import OpenAICompatibleLLM

MESSAGES = [ChatMessage("system", "Be brief."), ChatMessage("user", "Say hello.")]


class FakeServer:
    """A chat-completions endpoint whose answer is set per test through `behaviour`."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.release = threading.Event()  # set at teardown to free stalled handlers
        self.behaviour = lambda handler: sse(handler, ["Hello"])
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (the name http.server calls)
                length = int(self.headers.get("Content-Length", 0))
                fake.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                try:
                    fake.behaviour(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client went away (cancel, timeout)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def start_stream(handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.end_headers()


def send_event(handler, payload: str) -> None:
    handler.wfile.write(f"data: {payload}\n\n".encode())
    handler.wfile.flush()


def chunk(content: str) -> str:
    return json.dumps({"choices": [{"index": 0, "delta": {"content": content}}]})


def sse(handler, deltas: list[str]) -> None:
    start_stream(handler)
    send_event(handler, json.dumps({"choices": [{"delta": {"role": "assistant"}}]}))
    handler.wfile.write(b": keep-alive comment\n\n")
    for delta in deltas:
        send_event(handler, chunk(delta))
    send_event(handler, "[DONE]")


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


def make_llm(base_url: str, **overrides) -> OpenAICompatibleLLM:
    config = LLMConfig(backend="openai", model="m", base_url=base_url, timeout_s=5.0)
    for key, value in overrides.items():
        setattr(config, key, value)
    return OpenAICompatibleLLM(config)


def test_deltas_stream_in_order_and_the_request_is_a_streaming_chat(server):
    server.behaviour = lambda h: sse(h, ["Hel", "lo", ", ", "world", "!"])
    llm = make_llm(server.base_url)
    assert list(llm.stream_chat(MESSAGES)) == ["Hel", "lo", ", ", "world", "!"]

    [request] = server.requests
    assert request["path"] == "/v1/chat/completions"
    body = request["body"]
    assert body["stream"] is True
    assert body["model"] == "m"
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello."},
    ]
    assert body["max_tokens"] == 96
    assert body["temperature"] == pytest.approx(0.2)


def test_max_tokens_argument_overrides_the_config(server):
    list(make_llm(server.base_url).stream_chat(MESSAGES, max_tokens=7))
    assert server.requests[0]["body"]["max_tokens"] == 7


def test_trailing_slash_in_base_url(server):
    assert list(make_llm(server.base_url + "/").stream_chat(MESSAGES)) == ["Hello"]
    assert server.requests[0]["path"] == "/v1/chat/completions"


def test_api_key_is_sent_as_bearer_token(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    list(make_llm(server.base_url, api_key="sk-test-123").stream_chat(MESSAGES))
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-test-123"


def test_api_key_from_environment(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    list(make_llm(server.base_url).stream_chat(MESSAGES))
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-from-env"


def test_no_api_key_no_authorization_header(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    list(make_llm(server.base_url).stream_chat(MESSAGES))
    assert "Authorization" not in server.requests[0]["headers"]


def test_a_model_name_is_required():
    with pytest.raises(EngineError, match="needs a model name"):
        OpenAICompatibleLLM(LLMConfig(backend="openai", model=""))


def test_http_500_is_an_engine_error(server):
    def fail(handler):
        body = b'{"error": "internal boom"}'
        handler.send_response(500)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    server.behaviour = fail
    with pytest.raises(EngineError, match="HTTP 500") as error:
        list(make_llm(server.base_url).stream_chat(MESSAGES))
    assert "internal boom" in str(error.value)


def test_nothing_listening_is_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The socket is closed: nothing listens on `port` now.
    llm = make_llm(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(EngineError, match="unreachable"):
        list(llm.stream_chat(MESSAGES))


def test_a_stalled_stream_times_out(server):
    def stall(handler):
        start_stream(handler)
        send_event(handler, chunk("Hi"))
        server.release.wait(10)  # far longer than timeout_s

    server.behaviour = stall
    received = []
    with pytest.raises(EngineError, match="timed out after 1 s"):
        for delta in make_llm(server.base_url, timeout_s=1.0).stream_chat(MESSAGES):
            received.append(delta)
    assert received == ["Hi"]


def test_malformed_event_is_an_engine_error(server):
    def malformed(handler):
        start_stream(handler)
        send_event(handler, chunk("ok"))
        send_event(handler, "{not json")

    server.behaviour = malformed
    received = []
    with pytest.raises(EngineError, match="malformed event"):
        for delta in make_llm(server.base_url).stream_chat(MESSAGES):
            received.append(delta)
    assert received == ["ok"]


def test_error_object_in_the_stream_is_an_engine_error(server):
    def error_event(handler):
        start_stream(handler)
        send_event(handler, json.dumps({"error": {"message": "model overloaded"}}))

    server.behaviour = error_event
    with pytest.raises(EngineError, match="reported an error.*model overloaded"):
        list(make_llm(server.base_url).stream_chat(MESSAGES))


def test_stream_without_done_just_ends(server):
    def no_done(handler):
        start_stream(handler)
        send_event(handler, chunk("a"))
        send_event(handler, chunk("b"))

    server.behaviour = no_done
    assert list(make_llm(server.base_url).stream_chat(MESSAGES)) == ["a", "b"]


def test_cancel_stops_the_stream_early(server):
    """The server would send 200 deltas; cancel after the first one ends the stream."""

    def long_answer(handler):
        start_stream(handler)
        for index in range(200):
            send_event(handler, chunk(f"d{index} "))
            time.sleep(0.005)
        send_event(handler, "[DONE]")

    server.behaviour = long_answer
    cancel = threading.Event()
    received = []
    for delta in make_llm(server.base_url).stream_chat(MESSAGES, cancel=cancel):
        received.append(delta)
        cancel.set()
    assert received == ["d0 "]


def test_cancel_set_before_the_first_delta_yields_nothing(server):
    cancel = threading.Event()
    cancel.set()
    assert list(make_llm(server.base_url).stream_chat(MESSAGES, cancel=cancel)) == []


class SingleSlotServer:
    """A real ASGI server (uvicorn) that generates like llama.cpp's server with one slot: one
    request at a time, the others queue with no answer yet, a token every `token_s`, and it
    looks for a vanished client before each token. It records what each request produced."""

    def __init__(self, token_s: float = 0.1, tokens: int = 50) -> None:
        import asyncio

        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import StreamingResponse
        from starlette.routing import Route

        self.produced: dict[str, int] = {}  # request tag (the user message) -> tokens made
        self.left_early: set[str] = set()
        self.started: dict[str, threading.Event] = {}
        slot = asyncio.Lock()

        async def chat(request):
            tag = (await request.json())["messages"][-1]["content"]
            self.produced[tag] = 0
            await slot.acquire()  # queued: the client has had nothing back yet

            async def generate():
                finished = False
                try:
                    self.started.setdefault(tag, threading.Event()).set()
                    for index in range(tokens):
                        if await request.is_disconnected():
                            return
                        self.produced[tag] += 1
                        yield f"data: {chunk(f't{index} ')}\n\n"
                        await asyncio.sleep(token_s)
                    yield "data: [DONE]\n\n"
                    finished = True
                finally:  # also when Starlette cancels the stream on a disconnect
                    if not finished:
                        self.left_early.add(tag)
                    slot.release()

            return StreamingResponse(generate(), media_type="text/event-stream")

        app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self._server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            assert time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.01)

    def wait_started(self, tag: str) -> None:
        assert self.started.setdefault(tag, threading.Event()).wait(30), f"{tag} never started"

    def close(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture
def slot_server():
    server = SingleSlotServer()
    yield server
    server.close()


def ask(tag: str) -> list[ChatMessage]:
    return [ChatMessage("user", tag)]


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def test_a_cancel_mid_stream_stops_generation_on_the_server_within_a_token(slot_server):
    llm = make_llm(slot_server.base_url)
    cancel = threading.Event()
    received = []
    for delta in llm.stream_chat(ask("A"), cancel=cancel):
        received.append(delta)
        if len(received) == 3:
            cancel.set()
    assert received == ["t0 ", "t1 ", "t2 "]
    wait_until(lambda: "A" in slot_server.left_early, "the server saw the client leave")
    assert slot_server.produced["A"] <= len(received) + 1


def test_a_request_cancelled_while_queued_never_generates(slot_server):
    """B waits behind A for the single slot and is cancelled before the server answers it: the
    connection closes at once, so when the slot frees the server finds B gone."""
    llm = make_llm(slot_server.base_url)
    first = threading.Event()
    holder = threading.Thread(
        target=lambda: [first.set() for _ in llm.stream_chat(ask("A"))], daemon=True
    )
    holder.start()
    slot_server.wait_started("A")
    cancel = threading.Event()
    got: list[str] = []
    queued = threading.Thread(
        target=lambda: got.extend(llm.stream_chat(ask("B"), cancel=cancel)), daemon=True
    )
    queued.start()
    wait_until(lambda: "B" in slot_server.produced, "B reached the server")
    cancel.set()
    queued.join(timeout=5)
    assert not queued.is_alive(), "the cancelled request still waited for the server"
    assert got == []
    holder.join(timeout=30)  # A finishes; the slot goes to B, which has left
    wait_until(lambda: "B" in slot_server.left_early, "the server found B gone")
    assert slot_server.produced["B"] == 0
