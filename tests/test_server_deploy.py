"""Replicas in production: Prometheus metrics, the SIGTERM drain, two replicas behind HAProxy."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from fakes import tone
from omnitalk.audio.pcm import float_to_pcm16
from omnitalk.server.background import free_port
from protocol_client import REPLY, WAIT, Client, readyz, stream, wait_for, ws_url
from serving import FakeAssistant, running_server

TESTS = Path(__file__).parent
STREAM = "/v1/stream?input_rate=16000"


def metrics(base: str) -> dict[tuple[str, tuple], float]:
    """/metrics parsed as Prometheus text: {(sample name, sorted labels): value}."""
    response = httpx.get(base + "/metrics", timeout=WAIT)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def stage_count(figures: dict, stage: str) -> float:
    return figures[("omnitalk_stage_seconds_count", (("stage", stage),))]


def spoken_turn(client: Client) -> list[dict]:
    """A second of "speech" and the silence that ends it, as raw PCM; the events to reply_done."""
    audio = np.concatenate([tone(1.0), np.zeros(16000, np.float32)])
    for start in range(0, audio.size, 1600):
        client.ws.send(float_to_pcm16(audio[start:start + 1600]))
    return client.until("reply_done")


def typed_turn(client: Client, text: str = "Hello?") -> str:
    client.send({"type": "text", "text": text})
    return client.until("reply_done")[-1]["text"]


def refusal(base: str) -> tuple[str, int]:
    """Open a session that the server refuses: the error code it sent and its close code."""
    with connect(ws_url(base, STREAM), open_timeout=WAIT) as ws:
        client = Client(ws)
        error = client.next()
        assert error["type"] == "error", error
        return error["code"], client.closed_code()


# ------------------------------------------------------------------------------ /metrics


def test_metrics_count_sessions_turns_refusals_and_time_each_stage():
    with running_server(FakeAssistant.build, max_sessions=1, session_wait_s=0.1) as base:
        before = metrics(base)
        assert before[("omnitalk_sessions", ())] == 0
        assert before[("omnitalk_ready", ())] == 1
        assert before[("omnitalk_draining", ())] == 0
        assert all(stage_count(before, stage) == 0
                   for stage in ("transcript", "first_text", "first_audio"))
        with stream(base) as client:
            assert spoken_turn(client)[-1]["text"] == REPLY
            assert typed_turn(client) == REPLY  # a typed turn has no end of speech to time from
            assert refusal(base) == ("session_limit_reached", 1013)
            during = metrics(base)
        assert during[("omnitalk_sessions", ())] == 1
        assert during[("omnitalk_sessions_opened_total", (("endpoint", "/v1/stream"),))] == 1
        assert during[("omnitalk_sessions_refused_total",
                       (("reason", "session_limit_reached"),))] == 1
        assert during[("omnitalk_turns_total", ())] == 1
        assert during[("omnitalk_replies_total", (("outcome", "done"),))] == 2
        assert during[("omnitalk_compute_waiting", ())] == 0  # nothing left to compute
        # The scheduler's totals are the process's: the steps of these turns are among them.
        grown = {kind: during.get(("omnitalk_compute_seconds_total", (("kind", kind),)), 0.0)
                 - before.get(("omnitalk_compute_seconds_total", (("kind", kind),)), 0.0)
                 for kind in ("llm", "tts", "asr_final")}
        assert all(seconds > 0 for seconds in grown.values()), grown
        for stage in ("transcript", "first_text", "first_audio"):
            assert stage_count(during, stage) == 1, stage
        # Each stage comes after the one before it, so their times cannot decrease.
        sums = [during[("omnitalk_stage_seconds_sum", (("stage", stage),))]
                for stage in ("transcript", "first_text", "first_audio")]
        assert 0 < sums[0] <= sums[1] <= sums[2] < WAIT
        wait_for(lambda: metrics(base)[("omnitalk_sessions", ())] == 0, "the session to close")


# --------------------------------------------------------------------- replicas in processes


@contextlib.contextmanager
def replica() -> Iterator[tuple[subprocess.Popen, str]]:
    """tests/serving.py in a process of its own (so it can be signalled); (process, base URL)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, str(TESTS / "serving.py"), str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(base) or process.poll() is not None, "the replica to start")
        assert process.poll() is None, process.communicate()[0].decode()
        yield process, base
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=WAIT)


def _ready(base: str) -> bool:
    try:
        return readyz(base).status_code == 200
    except httpx.TransportError:
        return False


def exit_code(process: subprocess.Popen) -> int:
    return process.wait(timeout=WAIT)


def test_sigterm_drains_the_running_session_and_then_exits():
    with replica() as (process, base), stream(base) as running:
        assert typed_turn(running) == REPLY
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: readyz(base).status_code == 503, "/readyz to turn unready")
        assert readyz(base).json()["status"] == "draining"
        assert metrics(base)[("omnitalk_draining", ())] == 1
        assert refusal(base) == ("server_draining", 1013)
        assert metrics(base)[("omnitalk_sessions_refused_total",
                              (("reason", "server_draining"),))] == 1
        assert process.poll() is None  # a session is running: the process waits for it
        assert typed_turn(running, "Still there?") == REPLY
        assert spoken_turn(running)[-1]["text"] == REPLY
        running.ws.close()
        assert exit_code(process) == 0


def test_a_second_sigterm_stops_at_once():
    with replica() as (process, base), stream(base) as running:
        process.send_signal(signal.SIGTERM)
        wait_for(lambda: readyz(base).status_code == 503, "/readyz to turn unready")
        process.send_signal(signal.SIGTERM)
        assert running.closed_code() == 1012  # uvicorn's "service restart" close
        process.wait(timeout=WAIT)


# ------------------------------------------------------------------------- behind HAProxy

HAPROXY = shutil.which("haproxy")


def haproxy_config(port: int, stats: Path, replicas: dict[str, str]) -> str:
    """docs/deploy.md's configuration, on loopback, with health checks fast enough for a test."""
    servers = "\n".join(f"  server {name} {base.removeprefix('http://')} check"
                        for name, base in replicas.items())
    return f"""
global
  stats socket {stats} mode 600 level admin
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
frontend omnitalk
  bind 127.0.0.1:{port}
  default_backend replicas
backend replicas
  balance leastconn
  option httpchk
  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost
  http-check expect status 200
  default-server inter 100ms fall 1 rise 2
{servers}
"""


def server_states(stats: Path) -> dict[str, str]:
    """HAProxy's view of each replica ("UP", "DOWN", ...) from its stats socket."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(stats))
        sock.sendall(b"show stat\n")
        raw = b"".join(iter(lambda: sock.recv(65536), b""))
    rows = csv.DictReader(io.StringIO(raw.decode().lstrip("# ")))
    return {row["svname"]: row["status"] for row in rows
            if row["pxname"] == "replicas" and row["svname"] not in ("BACKEND", "FRONTEND")}


def sessions(base: str) -> int:
    return readyz(base).json()["sessions"]


@pytest.mark.skipif(HAPROXY is None, reason="needs Debian's haproxy (scripts/install.sh)")
def test_two_replicas_behind_haproxy_share_sessions_and_one_drains(tmp_path):
    with replica() as (process_a, a), replica() as (process_b, b), \
            contextlib.ExitStack() as clients:
        port, stats = free_port(), tmp_path / "haproxy.sock"
        (tmp_path / "haproxy.cfg").write_text(haproxy_config(port, stats, {"a": a, "b": b}))
        balancer = subprocess.Popen([HAPROXY, "-db", "-f", str(tmp_path / "haproxy.cfg")],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        clients.callback(lambda: (balancer.kill(), balancer.communicate(timeout=WAIT)))
        wait_for(lambda: stats.exists() and server_states(stats) == {"a": "UP", "b": "UP"},
                 "HAProxy to see both replicas up")
        front = f"http://127.0.0.1:{port}"

        first = [clients.enter_context(stream(front)) for _ in range(4)]
        assert (sessions(a), sessions(b)) == (2, 2)  # least connections: two each
        assert all(typed_turn(client) == REPLY for client in first)

        process_a.send_signal(signal.SIGTERM)
        wait_for(lambda: server_states(stats)["a"].startswith("DOWN"),
                 "HAProxy to take the draining replica out")
        later = [clients.enter_context(stream(front)) for _ in range(2)]
        assert (sessions(a), sessions(b)) == (2, 4)  # the drained replica took none
        assert all(typed_turn(client) == REPLY for client in later)
        # a's running sessions go on through the balancer, and a exits when they end.
        assert [typed_turn(client, "Are you still there?") for client in first] == [REPLY] * 4
        for client in first:
            client.ws.close()
        assert exit_code(process_a) == 0
        wait_for(lambda: sessions(b) == 2, "b's two sessions from the first four to end")
