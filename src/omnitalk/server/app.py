"""`omnitalk serve`: the web page, the OpenAI Realtime WebSocket and the raw PCM WebSocket.

Models load once, in the background (`/readyz` says when); every connection gets its own
`Session` over the shared engines. `/metrics` is Prometheus text (`metrics.py`); SIGTERM drains
(`drain.py`). Everything is bounded: sessions (`max_sessions`), sockets and
the time a request head may take (`connections.py`), message size, queued events per client;
sockets open only from the server's own page or allowed origins (`origins.py`), and the static
files are served from the web folder only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect, WebSocketState

from omnitalk.assistant import Assistant
from omnitalk.server.auth import KEY_SUBPROTOCOL, is_authorized, offered_subprotocols
from omnitalk.server.connections import (
    ACCEPT_BACKLOG,
    ConnectionLimits,
    RateLimitedLoopErrors,
    connection_cap,
    guarded_http_protocol,
)
from omnitalk.server.drain import Drain, DrainingServer
from omnitalk.server.live import LiveSession
from omnitalk.server.memory import limit_malloc_arenas
from omnitalk.server.metrics import CONTENT_TYPE, ServerMetrics
from omnitalk.server.origins import OriginPolicy
from omnitalk.server.realtime import RealtimeProtocol, RealtimeSettings
from omnitalk.server.records import SessionRecorder
from omnitalk.server.stream import StreamProtocol

log = logging.getLogger("omnitalk.server")
WEB_DIR = Path(__file__).parent / "web"
# WebSocket close codes: policy violation (auth, slow client) and "try again later".
CLOSE_POLICY, CLOSE_TRY_LATER, CLOSE_SERVER_ERROR = 1008, 1013, 1011
# What `/metrics` counts a session the server ended as (the only two ways it ends one).
_CLOSE_REASONS = {CLOSE_POLICY: "slow_client", CLOSE_SERVER_ERROR: "internal_error"}


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    max_sessions: int = 4
    record_dir: Path | None = None
    # Largest text message handled with a specific error; the socket itself allows twice this
    # and closes with 1009 beyond it.
    max_message_bytes: int = 1 << 20
    # A client that reads slower than its events come, with this many waiting, is disconnected.
    max_queued_events: int = 20_000
    # Pages on other origins that may open the WebSockets ("*": any page; unsafe).
    allowed_origins: tuple[str, ...] = ()
    # Open sockets of any kind (sessions, page loads, idle keep-alives), and how long a request
    # head may take to arrive; idle keep-alive connections close after keep_alive_s.
    max_connections: int = 1000
    header_timeout_s: float = 10.0
    keep_alive_s: int = 5
    # A client that finds every session slot taken waits this long for one to free.
    session_wait_s: float = 1.0
    # After SIGTERM, running sessions may go on this long before they are closed.
    drain_s: float = 60.0


class _Server:
    """The app's state: the shared assistant (once loaded) and the live sessions."""

    def __init__(self, config: ServerConfig, load_assistant: Callable[[], Assistant]) -> None:
        self.config = config
        self.load_assistant = load_assistant
        self.assistant: Assistant | None = None
        self.load_error: str | None = None
        self.sessions: set[LiveSession] = set()
        # Slots are taken before a session exists, so the limit holds, and given back as soon
        # as its client has gone, before the teardown: a client that reconnects at once fits.
        self.open_sessions = 0
        self.waiting_sessions = 0
        self._slots = asyncio.Semaphore(config.max_sessions)
        self.drain = Drain(config.drain_s)
        self.metrics = ServerMetrics(
            open_sessions=lambda: self.open_sessions,
            waiting_sessions=lambda: self.waiting_sessions,
            queued_events=lambda: sum(live.events.qsize() for live in list(self.sessions)),
            ready=lambda: self.assistant is not None and not self.drain.draining,
            draining=lambda: self.drain.draining,
        )

    async def take_slot(self) -> Callable[[], None] | None:
        """A session slot's release function, or None if none freed within session_wait_s."""
        self.waiting_sessions += 1
        try:
            await asyncio.wait_for(self._slots.acquire(), self.config.session_wait_s)
        except TimeoutError:
            return None
        finally:
            self.waiting_sessions -= 1
        self.open_sessions += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.open_sessions -= 1
                self._slots.release()

        return release

    async def load(self) -> None:
        start = time.perf_counter()
        try:
            self.assistant = await asyncio.to_thread(self.load_assistant)
        except Exception as error:  # reported by /readyz and to every client that connects
            self.load_error = f"{type(error).__name__}: {error}"
            log.exception("loading the models failed")
            return
        log.info("models ready in %.1f s", time.perf_counter() - start)


class _Gate:
    """ASGI middleware in front of every route and socket: a loopback server answers only to
    loopback names, sockets only to the server's own page or allowed origins (`origins.py`),
    and everything needs the API key when one is set."""

    def __init__(self, app: ASGIApp, api_key: str | None, origins: OriginPolicy) -> None:
        self.app = app
        self.api_key = api_key
        self.origins = origins

    def _denial(self, scope: Scope) -> JSONResponse | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        host = headers.get("host")
        if not self.origins.host_allowed(host):
            return _error_response(
                403, "host_not_allowed",
                f"this server listens on loopback and answers only to loopback names, not "
                f"{host[:100]!r}; allow another page's host with --allow-origin")
        origin = headers.get("origin")
        if scope["type"] == "websocket" and not self.origins.origin_allowed(origin, host):
            return _error_response(
                403, "origin_not_allowed",
                f"WebSocket connections from pages at {origin[:100]!r} are refused; start the "
                "server with --allow-origin ORIGIN to allow them")
        if not is_authorized(headers, self.api_key):
            return _error_response(
                401, "invalid_api_key", "this server needs an API key: Authorization: Bearer KEY",
                {"WWW-Authenticate": 'Basic realm="omnitalk", charset="UTF-8"'})
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        denial = self._denial(scope) if scope["type"] in ("http", "websocket") else None
        if denial is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await denial(scope, receive, send)
        elif "websocket.http.response" in scope.get("extensions", {}):
            await WebSocket(scope, receive, send).send_denial_response(denial)
        else:
            await WebSocket(scope, receive, send).close(CLOSE_POLICY, "refused")


class _DenialIsNotAnError(logging.Filter):
    """uvicorn's websockets-sansio protocol (0.54) sends a handshake denial correctly, then
    logs "ASGI callable returned without completing handshake" at ERROR for it: one error line
    per refused socket, which a flood of refused handshakes would turn into a flood of log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("ASGI callable returned without completing")


_DENIAL_FILTER = _DenialIsNotAnError()


def _error_response(status: int, code: str, message: str,
                    headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"type": "invalid_request_error", "code": code,
                                   "message": message}}, status_code=status, headers=headers)


def create_app(config: ServerConfig, load_assistant: Callable[[], Assistant]) -> FastAPI:
    server = _Server(config, load_assistant)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        asyncio.get_running_loop().set_exception_handler(RateLimitedLoopErrors())
        logging.getLogger("uvicorn.error").addFilter(_DENIAL_FILTER)
        limit_malloc_arenas()
        loading = asyncio.create_task(server.load())
        yield
        loading.cancel()
        await asyncio.gather(*(live.close() for live in list(server.sessions)))

    app = FastAPI(title="omnitalk", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.server = server

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        closing = sum(live.closing for live in server.sessions)
        body = {"sessions": server.open_sessions, "max_sessions": config.max_sessions,
                "closing": closing}
        if server.drain.draining:  # first: a load balancer must stop sending sessions here
            return JSONResponse({"status": "draining", **body}, 503)
        if server.assistant is not None:
            return JSONResponse({"status": "ready", **body})
        if server.load_error is not None:
            return JSONResponse({"status": "failed", "error": server.load_error, **body}, 503)
        return JSONResponse({"status": "loading", **body}, 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(server.metrics.render(), media_type=CONTENT_TYPE)

    @app.websocket("/v1/realtime")
    async def realtime(websocket: WebSocket) -> None:
        beta = websocket.headers.get("openai-beta", "").replace(" ", "") == "realtime=v1"

        async def reject(code: str, message: str, send_json) -> None:
            await send_json({"type": "error", "event_id": "event_reject", "error": {
                "type": "server_error", "code": code, "message": message, "param": None,
                "event_id": None}})

        def protocol(live: LiveSession, send_json, send_bytes) -> RealtimeProtocol:
            # A new Realtime session starts from the server's own settings (flags, config file).
            session = live.session.config
            settings = RealtimeSettings(
                instructions=server.assistant.responder.default_instructions,
                threshold=session.turn.threshold,
                prefix_padding_ms=session.speech_pad_ms,
                silence_duration_ms=session.turn.silence_ms,
                interrupt_response=session.turn.barge_in_ms > 0,
            )
            return RealtimeProtocol(live, send_json, settings, beta=beta,
                                    max_message_bytes=config.max_message_bytes,
                                    model_policy=server.assistant.model_policy)

        await _converse(server, websocket, protocol, reject)

    @app.websocket("/v1/stream")
    async def stream(websocket: WebSocket) -> None:
        async def reject(code: str, message: str, send_json) -> None:
            await send_json({"type": "error", "turn": 0, "audio_time": 0.0, "code": code,
                             "message": message})

        rates = {}
        for name, default in (("input_rate", 16000), ("output_rate", None)):
            value = websocket.query_params.get(name)
            try:
                rates[name] = int(value) if value is not None else default
            except ValueError:
                rates[name] = -1
        rates["output_rate"] = rates["output_rate"] or rates["input_rate"]
        bad = [name for name, rate in rates.items() if not 8000 <= rate <= 48000]

        def protocol(live: LiveSession, send_json, send_bytes) -> StreamProtocol:
            return StreamProtocol(live, send_json, send_bytes, rates["input_rate"],
                                  rates["output_rate"], config.max_message_bytes)

        if bad:
            await _refuse(server, websocket, reject, "invalid_sample_rate",
                          f"{' and '.join(bad)} must be an integer from 8000 to 48000")
            return
        await _converse(server, websocket, protocol, reject)

    app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    origins = OriginPolicy.build(config.allowed_origins, config.host)
    return _Gate(app, config.api_key, origins)  # type: ignore[return-value]


def serve(config: ServerConfig, load_assistant: Callable[[], Assistant]) -> None:
    """Run the server in this process until SIGINT, or until SIGTERM's drain has finished."""
    app = create_app(config, load_assistant)
    server: _Server = app.app.state.server
    DrainingServer(uvicorn_config(app, config), server.drain, lambda: server.open_sessions).run()


def uvicorn_config(app: ASGIApp, config: ServerConfig, log_level: str = "info") -> uvicorn.Config:
    """How uvicorn must run the app: socket sizes, timeouts and the guarded HTTP protocol."""
    limits = ConnectionLimits(connection_cap(config.max_connections), config.header_timeout_s)
    return uvicorn.Config(
        app, host=config.host, port=config.port, log_level=log_level,
        ws_max_size=2 * config.max_message_bytes, timeout_keep_alive=config.keep_alive_s,
        http=guarded_http_protocol(limits), backlog=ACCEPT_BACKLOG,
    )


def _accept_subprotocol(websocket: WebSocket) -> str | None:
    """Browsers fail the handshake unless one offered subprotocol is chosen; never echo a key."""
    offered = [p for p in offered_subprotocols(dict(websocket.headers))
               if not p.startswith(KEY_SUBPROTOCOL)]
    return offered[0] if offered else None


async def _refuse(server: _Server, websocket: WebSocket, reject, code: str, message: str
                  ) -> None:
    server.metrics.sessions_refused.labels(code).inc()
    await websocket.accept(subprotocol=_accept_subprotocol(websocket))

    async def send_json(payload: dict) -> None:
        await websocket.send_text(json.dumps(payload))

    await reject(code, message, send_json)
    await websocket.close(CLOSE_TRY_LATER if code != "invalid_sample_rate" else CLOSE_POLICY,
                          message[:120])


_DRAINING = "this server is shutting down and takes no new sessions; connect again"


async def _converse(server: _Server, websocket: WebSocket, make_protocol, reject) -> None:
    config = server.config
    if server.assistant is None:
        reason = server.load_error or "the models are still loading; retry shortly"
        await _refuse(server, websocket, reject, "not_ready", reason)
        return
    if server.drain.draining:
        await _refuse(server, websocket, reject, "server_draining", _DRAINING)
        return
    release_slot = await server.take_slot()
    if release_slot is None:
        await _refuse(server, websocket, reject, "session_limit_reached",
                      f"the server is at its limit of {config.max_sessions} sessions")
        return
    if server.drain.draining:  # the drain began while this client waited for a slot
        release_slot()
        await _refuse(server, websocket, reject, "server_draining", _DRAINING)
        return
    server.metrics.sessions_opened.labels(websocket.url.path).inc()
    try:
        await websocket.accept(subprotocol=_accept_subprotocol(websocket))
        await _run_session(server, websocket, make_protocol, release_slot)
    finally:
        release_slot()


async def _run_session(server: _Server, websocket: WebSocket, make_protocol,
                       release_slot: Callable[[], None]) -> None:
    config = server.config
    loop = asyncio.get_running_loop()
    sending = asyncio.Lock()

    async def send_json(payload: dict) -> None:
        async with sending:
            await websocket.send_text(json.dumps(payload))

    async def send_bytes(payload: bytes) -> None:
        async with sending:
            await websocket.send_bytes(payload)

    live = await asyncio.to_thread(
        LiveSession, server.assistant.new_session, loop, None, server.metrics.turn_clock().observe
    )
    server.sessions.add(live)
    if config.record_dir is not None:
        live.recorder = SessionRecorder(config.record_dir / live.id, live.session.sample_rate)
    log.info("session %s opened (%s, %d live)", live.id, websocket.url.path, len(server.sessions))
    protocol = make_protocol(live, send_json, send_bytes)
    pump = asyncio.create_task(_pump_events(live, protocol, config))
    close: tuple[int, str] | None = None
    try:
        await protocol.start()
        close = await _receive_loop(websocket, protocol, pump, live.id)
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("session %s failed", live.id)
        close = (CLOSE_SERVER_ERROR, "internal error")
    finally:
        release_slot()
        pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
        await live.close()  # first: the reply stops even if the socket cannot be closed cleanly
        server.sessions.discard(live)
        log.info("session %s closed (%d live)", live.id, len(server.sessions))
    if close is not None:
        server.metrics.errors.labels(_CLOSE_REASONS[close[0]]).inc()
    if close is not None and websocket.client_state is WebSocketState.CONNECTED:
        # A client too slow to read its events may not take the close frame soon either.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(*close), 2.0)


class _SlowClient(Exception):
    pass


async def _receive_loop(websocket: WebSocket, protocol, pump: asyncio.Task, live_id: str
                        ) -> tuple[int, str] | None:
    """Client messages until it leaves; returns a close code if the server must end it."""
    while not pump.done():
        receiving = asyncio.ensure_future(websocket.receive())
        await asyncio.wait({receiving, pump}, return_when=asyncio.FIRST_COMPLETED)
        if not receiving.done():  # the pump stopped: the client is gone or too slow, or a bug
            receiving.cancel()
            error = pump.exception()
            if isinstance(error, _SlowClient):
                log.warning("session %s: the client reads its events too slowly; disconnecting",
                            live_id)
                return CLOSE_POLICY, "client too slow: events not read"
            if error is not None and not isinstance(error, WebSocketDisconnect | OSError):
                log.error("session %s: sending events failed", live_id, exc_info=error)
                return CLOSE_SERVER_ERROR, "internal error"
            return None
        message = receiving.result()
        if message["type"] == "websocket.disconnect":
            return None
        if message.get("bytes") is not None:
            await protocol.handle_binary(message["bytes"])
        elif message.get("text") is not None:
            await protocol.handle_text(message["text"])
    return None


async def _pump_events(live: LiveSession, protocol, config: ServerConfig) -> None:
    handle: Callable[..., Awaitable[None]] = protocol.handle_event
    while True:
        event = await live.events.get()
        if live.events.qsize() > config.max_queued_events:
            raise _SlowClient
        await handle(event)
