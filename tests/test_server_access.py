"""Who gets in, and to what: API keys, static-file confinement, the session limit, readiness."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
from pathlib import Path

import httpx
import pytest
from openai import AsyncOpenAI
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from protocol_client import WAIT, Client, configure, readyz, realtime, wait_for, ws_url
from serving import FakeAssistant, running_server

# ---------------------------------------------------------------------------------------- auth


@pytest.fixture(scope="module")
def keyed_server():
    with running_server(FakeAssistant.build, api_key="k") as base:
        yield base


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize("path", ["/", "/healthz", "/readyz", "/app.js", "/index.html"])
def test_http_routes_need_the_key(keyed_server, path):
    url = keyed_server + path
    denied = httpx.get(url, timeout=WAIT)
    assert denied.status_code == 401
    assert denied.json()["error"]["code"] == "invalid_api_key"
    assert denied.headers["www-authenticate"].startswith("Basic")
    for headers in ({"Authorization": "Bearer wrong"}, {"Authorization": _basic("u", "kk")},
                    {"Authorization": "Basic !!notbase64"}, {"Authorization": "k"}):
        assert httpx.get(url, headers=headers, timeout=WAIT).status_code == 401
    for headers in ({"Authorization": "Bearer k"}, {"Authorization": _basic("anyone", "k")},
                    {"Authorization": _basic("", "k")}):
        assert httpx.get(url, headers=headers, timeout=WAIT).status_code == 200


@pytest.mark.parametrize("path", ["/v1/realtime", "/v1/stream"])
def test_websockets_need_the_key(keyed_server, path):
    url = ws_url(keyed_server, path)
    for kwargs in ({}, {"additional_headers": {"Authorization": "Bearer nope"}},
                   {"subprotocols": ["openai-insecure-api-key.nope"]}):
        with pytest.raises(InvalidStatus) as denied:
            connect(url, open_timeout=WAIT, **kwargs)
        assert denied.value.response.status_code == 401
    first = "session.created" if path == "/v1/realtime" else "ready"
    for kwargs in ({"additional_headers": {"Authorization": "Bearer k"}},
                   {"additional_headers": {"Authorization": _basic("me", "k")}},
                   {"subprotocols": ["openai-insecure-api-key.k"]}):
        with connect(url, open_timeout=WAIT, **kwargs) as ws:
            assert json.loads(ws.recv(timeout=WAIT))["type"] == first
            assert ws.subprotocol is None  # the key is never echoed back
    # A browser offering a real subprotocol next to the key gets that one chosen.
    with connect(url, open_timeout=WAIT,
                 subprotocols=["realtime", "openai-insecure-api-key.k"]) as ws:
        assert ws.subprotocol == "realtime"
        assert json.loads(ws.recv(timeout=WAIT))["type"] == first


def test_official_openai_client_with_the_key(keyed_server):
    async def first_event(api_key: str) -> str:
        client = AsyncOpenAI(api_key=api_key, websocket_base_url=ws_url(keyed_server, "/v1"))
        async with client.realtime.connect(model="omnitalk") as connection:
            async with asyncio.timeout(WAIT):
                event = await connection.recv()
            return event.type

    assert asyncio.run(first_event("k")) == "session.created"
    with pytest.raises(InvalidStatus) as denied:
        asyncio.run(first_event("wrong"))
    assert denied.value.response.status_code == 401


# -------------------------------------------------------------------------------- static files


def raw_get(base: str, target: str) -> tuple[int, bytes]:
    """GET with the request target sent byte for byte (no client-side path normalisation)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=WAIT) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
                     .encode("latin-1"))
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


ESCAPES = [
    "/../pyproject.toml", "/../../pyproject.toml", "/../../../../pyproject.toml",
    "/%2e%2e/%2e%2e/pyproject.toml", "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
    "/..%2f..%2f..%2fpyproject.toml", "/..%2f..%2f..%2f..%2fpyproject.toml",
    "/..%5c..%5c..%5cpyproject.toml", "/static/../../../../etc/passwd",
    "/../../../../../../../../etc/passwd", "//etc/passwd", "/%2fetc%2fpasswd",
    "/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fpyproject.toml", "/../app.py", "/%2e%2e/app.py",
    "/..%2fapp.py", "/....//....//pyproject.toml", "/.%2e/.%2e/.%2e/.%2e/pyproject.toml",
]


def test_static_files_stay_inside_the_web_folder(server):
    status, body = raw_get(server, "/app.js")  # the control: a real file is served
    assert status == 200 and body
    status, body = raw_get(server, "/")
    assert status == 200 and b"<html" in body.lower()
    secrets = [
        (Path(__file__).resolve().parents[1] / "pyproject.toml").read_bytes()[:60],
        (Path(__file__).resolve().parents[1] / "src/omnitalk/server/app.py").read_bytes()[:60],
    ]
    if Path("/etc/passwd").exists():
        secrets.append(Path("/etc/passwd").read_bytes()[:20])
    for target in ESCAPES:
        status, body = raw_get(server, target)
        assert status in (400, 404), (target, status)
        assert not any(secret in body for secret in secrets), target


# ------------------------------------------------------------------------ limits and readiness


def test_session_limit_refuses_the_extra_client_until_one_leaves():
    with running_server(FakeAssistant.build, max_sessions=1) as base:
        with realtime(base):
            for path in ("/v1/realtime", "/v1/stream"):
                with connect(ws_url(base, path), open_timeout=WAIT) as ws:
                    extra = Client(ws)
                    refusal = extra.next()
                    assert refusal["type"] == "error"
                    code = refusal.get("code") or refusal["error"]["code"]
                    assert code == "session_limit_reached"
                    assert extra.closed_code() == 1013
            assert readyz(base).json()["sessions"] == 1
        wait_for(lambda: readyz(base).json()["sessions"] == 0, "the first session to close")
        with realtime(base) as client:
            configure(client)


def test_not_ready_while_loading_then_ready():
    gate = threading.Event()

    def load():
        assert gate.wait(WAIT)
        return FakeAssistant.build()

    with running_server(load, wait_ready=False) as base:
        try:
            response = readyz(base)
            assert response.status_code == 503 and response.json()["status"] == "loading"
            assert httpx.get(base + "/healthz", timeout=WAIT).status_code == 200
            for path in ("/v1/realtime", "/v1/stream"):
                with connect(ws_url(base, path), open_timeout=WAIT) as ws:
                    client = Client(ws)
                    refusal = client.next()
                    code = refusal.get("code") or refusal["error"]["code"]
                    assert code == "not_ready"
                    assert client.closed_code() == 1013
        finally:
            gate.set()
        wait_for(lambda: readyz(base).status_code == 200, "the models to load")
        with realtime(base) as client:
            configure(client)


def test_failed_load_is_reported():
    def load():
        raise RuntimeError("no models in /nowhere")

    with running_server(load, wait_ready=False) as base:
        body = wait_for(lambda: readyz(base).json()["status"] == "failed" and readyz(base).json(),
                        "the load to fail")
        assert readyz(base).status_code == 503
        assert body["error"] == "RuntimeError: no models in /nowhere"
        with connect(ws_url(base, "/v1/realtime"), open_timeout=WAIT) as ws:
            client = Client(ws)
            refusal = client.next()
            assert refusal["error"]["code"] == "not_ready"
            assert "no models in /nowhere" in refusal["error"]["message"]
            assert client.closed_code() == 1013
