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
