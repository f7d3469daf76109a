"""`omnitalk serve` as a hostile client finds it: each failure of the hardening review, reproduced.

Replies that never ended, foreign pages driving the sockets, half-sent request heads held open
until the descriptors ran out, a tracebacks flood, reconnects refused at the session limit, and
memory that grew session after session. Waits are event-driven and generous; no assertion is
about time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from fakes import ScriptedLLM, silence
from omnitalk.audio.pcm import float_to_pcm16
from omnitalk.server.connections import RateLimitedLoopErrors
from protocol_client import (
    WAIT,
    Client,
    append,
    configure,
    realtime,
    stream,
    user_text,
    wait_for,
    ws_url,
)
from serving import FakeAssistant, free_port, running_server

TESTS = Path(__file__).parent

# ------------------------------------------------------------------ every response ends


def test_an_unforeseen_exception_in_a_reply_fails_the_response_and_the_next_is_answered(caplog):
    crash = ValueError("Requested tokens (5348) exceed context window of 2048")
    llm = ScriptedLLM("Fine, thanks.", crash=crash)
    with caplog.at_level(logging.ERROR), \
            running_server(lambda: FakeAssistant.build(llm=llm)) as base, \
            realtime(base) as client:
        configure(client)
        client.send(user_text("How are you?"))
        client.send({"type": "response.create"})
        events = client.until("response.done")
        [error] = [e for e in events if e["type"] == "error"]
        assert error["error"]["code"] == "reply_failed"
        assert "exceed context window" in error["error"]["message"]
        assert events[-1]["response"]["status"] == "failed"
        session_id = events[-1]["response"]["conversation_id"].removeprefix("conv_")
        # The session is usable: the next response is not refused as still active.
        client.send(user_text("And now?"))
        client.send({"type": "response.create"})
        events = client.until("response.done")
        assert events[-1]["response"]["status"] == "completed"
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and session_id in tracebacks[0].getMessage()


# --------------------------------------------------------------------- who may connect


def handshake(base: str, path: str, headers: dict[str, str]) -> int:
    """The HTTP status of a WebSocket handshake (101 when the socket opened)."""
    try:
        with connect(ws_url(base, path), open_timeout=WAIT, additional_headers=headers):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


@pytest.fixture(scope="module")
def guarded():
    with running_server(FakeAssistant.build,
                        allowed_origins=("https://app.example", "http://localhost:3000")) as base:
        yield base


@pytest.mark.parametrize("path", ["/v1/realtime", "/v1/stream"])
def test_pages_on_other_origins_cannot_open_the_sockets(guarded, path):
    port = guarded.rsplit(":", 1)[1]
    refused = ["http://evil.example", f"http://evil.example:{port}", "null", "not an origin",
               "http://127.0.0.1", "http://localhost:3001"]
    for origin in refused:
        assert handshake(guarded, path, {"Origin": origin}) == 403, origin
    accepted = [None, f"http://127.0.0.1:{port}", "https://app.example",
                "https://app.example:443", "http://localhost:3000"]
    for origin in accepted:
        headers = {"Origin": origin} if origin else {}
        assert handshake(guarded, path, headers) == 101, origin


def test_a_refused_origin_is_told_why_and_basic_credentials_do_not_help():
    with running_server(FakeAssistant.build, api_key="secret") as base:
        basic = httpx.BasicAuth("", "secret")._auth_header
        with pytest.raises(InvalidStatus) as refused:
            with connect(ws_url(base, "/v1/realtime"), open_timeout=WAIT, additional_headers={
                    "Origin": "http://evil.example", "Authorization": basic}):
                pass
        assert refused.value.response.status_code == 403
        assert b"origin_not_allowed" in refused.value.response.body
        assert b"--allow-origin" in refused.value.response.body


def test_a_loopback_server_answers_only_to_loopback_names(guarded):
    """DNS rebinding: evil.example re-resolved to 127.0.0.1 is same-origin with itself."""
    port = guarded.rsplit(":", 1)[1]
    with socket.create_connection(("127.0.0.1", int(port)), timeout=WAIT) as sock, \
            pytest.raises(InvalidStatus) as refused:
        connect(f"ws://evil.example:{port}/v1/realtime", sock=sock, open_timeout=WAIT,
                additional_headers={"Origin": f"http://evil.example:{port}"})
    assert refused.value.response.status_code == 403
    page = httpx.get(guarded + "/", headers={"Host": f"evil.example:{port}"}, timeout=WAIT)
    assert page.status_code == 403 and page.json()["error"]["code"] == "host_not_allowed"
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "app.example"):
        assert httpx.get(guarded + "/healthz", headers={"Host": host},
                         timeout=WAIT).status_code == 200, host


# ------------------------------------------------------------------- connection hygiene


def half_request(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the rest
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Reads until the server closes (True) or the socket's timeout passes (False)."""
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        return False
    return True


def test_half_sent_request_heads_and_idle_keep_alives_are_closed():
    with running_server(FakeAssistant.build, header_timeout_s=0.5, keep_alive_s=1) as base:
        port = int(base.rsplit(":", 1)[1])
        slow = [half_request(port) for _ in range(50)]
        assert all(closed_by_server(sock) for sock in slow)  # blocks until the server closes
        idle = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert idle.recv(12) == b"HTTP/1.1 200"
        assert closed_by_server(idle)  # after the response, kept alive for keep_alive_s
        for sock in [*slow, idle]:
            sock.close()
        assert httpx.get(base + "/healthz", timeout=WAIT).status_code == 200


def test_a_slow_header_flood_beyond_the_descriptor_limit_leaves_healthz_answering():
    """The server may open 1,024 descriptors; 2,000 connections send half a request head."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip(f"this process may open only {hard} descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))
    port = free_port()

    def limit_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    server = subprocess.Popen([sys.executable, str(TESTS / "serving.py"), str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              preexec_fn=limit_descriptors, env={**os.environ, "PYTHONPATH":
                                                                 os.pathsep.join(sys.path)})
    base = f"http://127.0.0.1:{port}"
    flood: list[socket.socket] = []
    try:
        wait_for(lambda: _answers(base), "the server to start")
        statuses = []
        for index in range(2000):
            flood.append(half_request(port))
            if index % 250 == 249:
                statuses.append(httpx.get(base + "/healthz", timeout=WAIT).status_code)
        statuses += [httpx.get(base + "/healthz", timeout=WAIT).status_code for _ in range(10)]
        assert statuses == [200] * len(statuses)
    finally:
        for sock in flood:
            sock.close()
        server.terminate()
        log = server.communicate(timeout=WAIT)[0].decode("utf-8", "replace")
    assert "serving at most 768 connections" in log  # 1,024 less the reserve
    assert log.count("Traceback") == 0, log[-3000:]


def _answers(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_failures_on_the_event_loop_are_logged_once_per_interval(caplog, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    handler = RateLimitedLoopErrors(interval_s=10)
    loop = asyncio.new_event_loop()
    try:
        accept_failed = {"message": "socket.accept() out of system resource",
                         "exception": OSError(24, "Too many open files")}
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            for _ in range(1000):
                handler(loop, accept_failed)
            handler(loop, {"message": "Exception in callback <Handle 1>",
                           "exception": RuntimeError("x")})
            clock[0] += 11
            handler(loop, accept_failed)
    finally:
        loop.close()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3
    assert "999 more like this in the last 10 s were not logged" in messages[2]


# ------------------------------------------------------------------------ session slots


def test_a_client_reconnecting_right_after_a_clean_close_at_the_limit_gets_in():
    with running_server(FakeAssistant.build, max_sessions=1) as base:
        for _ in range(20):
            with realtime(base) as client:
                configure(client)
                append(client, silence(0.3))
        with connect(ws_url(base, "/v1/stream"), open_timeout=WAIT) as ws:
            assert Client(ws).next()["type"] == "ready"


# ----------------------------------------------------------------------------- memory


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.real_models
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc")
def test_memory_after_300_sessions_one_after_another_stays_within_10_percent(tmp_path):
    """`omnitalk serve` on the packaged models: every session streams audio through the VAD.
    The first 10 are each answered aloud, so that the baseline has met the reply path (its
    engines keep buffers sized to the largest reply so far); after that every fifth is. RSS is
    read once the 10th session has been torn down, then once the 300th has."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "omnitalk.cli", "serve", "--port", str(port),
                               "--max-sessions", "1"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    audio = np.concatenate([silence(0.2), 0.01 * np.random.default_rng(0).standard_normal(
        4800).astype(np.float32)])
    rss = {}
    try:
        wait_for(lambda: _ready(base), "the models to load", timeout=300)
        for index in range(1, 301):
            with stream(base) as client:
                client.ws.send(float_to_pcm16(audio))
                if index <= 10 or index % 5 == 0:
                    client.send({"type": "config", "instructions": "Answer in one sentence."})
                    client.send({"type": "text", "text": f"Tell me one fact about number {index}."})
                    assert client.until(lambda e: e["type"] in ("reply_done", "error"))[-1][
                        "type"] == "reply_done"
            if index in (10, 300):
                wait_for(lambda: _ready(base, idle=True), "the session's teardown")
                rss[index] = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=WAIT)
    print(f"server RSS after 10 sessions {rss[10]:.0f} MB, after 300 {rss[300]:.0f} MB "
          f"({rss[300] / rss[10] - 1:+.1%})")
    assert rss[300] <= 1.10 * rss[10], rss


def _ready(base: str, idle: bool = False) -> bool:
    try:
        ready = httpx.get(base + "/readyz", timeout=2)
    except httpx.TransportError:
        return False
    body = ready.json()
    return ready.status_code == 200 and (not idle or body["sessions"] == body["closing"] == 0)
