"""LLM failures (scripted, or an OpenAI-compatible endpoint down or silent) and vanished clients."""

from __future__ import annotations

import socket
import threading

import numpy as np
import pytest

from fakes import EnergyVAD, ScriptedASR, ScriptedLLM, SilentTTS, silence, tone
from omnitalk.agent.responders.cascade import CascadeResponder
from omnitalk.assistant import AssistantConfig
from omnitalk.engines import registry
from omnitalk.engines.base import LLMConfig
from protocol_client import (
    REPLY,
    SLOW_REPLY,
    Client,
    append,
    configure,
    readyz,
    realtime,
    stream,
    types,
    user_text,
    wait_for,
)
from serving import FakeAssistant, free_port, running_server

SESSION_THREAD_PREFIXES = ("feed", "asr-partial", "asr-final", "reply", "tts")


def session_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith(SESSION_THREAD_PREFIXES)}


# -------------------------------------------------------------------------------- LLM failures


def test_llm_failure_reports_llm_error_then_the_next_turn_completes():
    llm = ScriptedLLM(REPLY, fail_times=1)
    with running_server(lambda: FakeAssistant.build(llm=llm)) as base, realtime(base) as client:
        client.send(user_text("First."))
        client.send({"type": "response.create"})
        events = client.until("response.done")
        errors = [e for e in events if e["type"] == "error"]
        assert [e["error"]["code"] for e in errors] == ["llm_error"]
        assert errors[0]["error"]["type"] == "server_error"
        assert "unreachable" in errors[0]["error"]["message"]
        assert types(events).index("error") < len(events) - 1  # the cause comes first
        response = events[-1]["response"]
        assert response["status"] == "failed"
        assert response["status_details"]["type"] == "failed"

        client.send(user_text("Second."))
        client.send({"type": "response.create"})
        events = client.until("response.done")
        assert events[-1]["response"]["status"] == "completed"
        assert "error" not in types(events)


@pytest.mark.parametrize("failure, code", [
    ({"fail_times": 1}, "llm_error"),
    ({"crash": RuntimeError("a bug in an engine")}, "reply_failed"),  # unforeseen: still ends
])
def test_llm_failure_on_the_stream_profile(failure, code):
    llm = ScriptedLLM(REPLY, **failure)
    with running_server(lambda: FakeAssistant.build(llm=llm)) as base, stream(base) as client:
        client.send({"type": "text", "text": "First."})
        events = client.until("reply_cancelled")
        assert [e["code"] for e in events if e["type"] == "error"] == [code]
        assert events[-1]["reason"] == "error"
        client.send({"type": "text", "text": "Second."})
        assert client.until("reply_done")[-1]["text"] == REPLY


def _openai_assistant(base_url: str, timeout_s: float = 5.0) -> FakeAssistant:
    config = LLMConfig(backend="openai", model="test-model", base_url=base_url,
                       timeout_s=timeout_s)
    llm = registry.create("llm", config)
    voice = SilentTTS()
    return FakeAssistant(AssistantConfig(), EnergyVAD(), ScriptedASR(),
                         CascadeResponder(llm, voice), voice, {})


def _failed_turn(client: Client, text: str) -> dict:
    client.send(user_text(text))
    client.send({"type": "response.create"})
    events = client.until("response.done")
    assert events[-1]["response"]["status"] == "failed"
    [error] = [e["error"] for e in events if e["type"] == "error"]
    assert error["code"] == "llm_error"
    return error


def test_openai_compatible_llm_that_is_down_gives_a_clear_error():
    port = free_port()  # nothing listens there
    assistant = _openai_assistant(f"http://127.0.0.1:{port}/v1")
    with running_server(lambda: assistant) as base, realtime(base) as client:
        error = _failed_turn(client, "Hello?")
        assert f"http://127.0.0.1:{port}/v1/chat/completions" in error["message"]
        assert "unreachable" in error["message"]
        configure(client)  # the session stays usable
        assert "unreachable" in _failed_turn(client, "Still there?")["message"]


class _SilentEndpoint:
    """Accepts connections and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="silent-endpoint", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.held.append(connection)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.listener.close()
        for connection in self.held:
            connection.close()


def test_openai_compatible_llm_that_times_out_gives_a_clear_error():
    endpoint = _SilentEndpoint()
    try:
        assistant = _openai_assistant(f"http://127.0.0.1:{endpoint.port}/v1", timeout_s=0.5)
        with running_server(lambda: assistant) as base, realtime(base) as client:
            error = _failed_turn(client, "Hello?")
            assert f"127.0.0.1:{endpoint.port}" in error["message"]
            assert "timed out after 0.5 s" in error["message"]
            assert endpoint.held, "the request reached the endpoint"
            configure(client)
            assert "timed out" in _failed_turn(client, "Again?")["message"]
    finally:
        endpoint.close()


# ---------------------------------------------------------------------------------- disconnect


def test_client_vanishing_mid_reply_frees_its_session_and_threads():
    llm = ScriptedLLM(SLOW_REPLY, delay_s=0.1)
    assistant = FakeAssistant.build(llm=llm)
    before = session_threads()
    with running_server(lambda: assistant) as base:
        with realtime(base) as client:
            configure(client)
            append(client, np.concatenate([tone(0.8), silence(0.8)]))
            client.until("response.output_audio.delta")
            assert readyz(base).json()["sessions"] == 1
            assert session_threads() - before, "the session runs its own threads"
            client.ws.close_socket()  # no close handshake: the client just vanishes
        wait_for(lambda: readyz(base).json()["sessions"] == 0, "the session count to drop")
        assert wait_for(llm.cancelled.is_set, "the LLM to see the cancel")
        wait_for(lambda: session_threads() <= before, "the session threads to end")
        # The models stay loaded for the next client.
        llm.delay_s = 0.0
        with realtime(base) as client:
            client.send(user_text("Back again."))
            client.send({"type": "response.create"})
            assert client.until("response.done")[-1]["response"]["status"] == "completed"
    wait_for(lambda: session_threads() <= before, "the second session's threads to end")


def test_stream_client_vanishing_mid_reply_frees_its_session():
    llm = ScriptedLLM(SLOW_REPLY, delay_s=0.1)
    before = session_threads()
    with running_server(lambda: FakeAssistant.build(llm=llm)) as base:
        with stream(base) as client:
            client.send({"type": "text", "text": "Talk for a while."})
            client.until("reply_text")
            client.ws.close_socket()
        wait_for(lambda: readyz(base).json()["sessions"] == 0, "the session count to drop")
        assert wait_for(llm.cancelled.is_set, "the LLM to see the cancel")
        wait_for(lambda: session_threads() <= before, "the session threads to end")
