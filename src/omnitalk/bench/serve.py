"""`omnitalk bench serve`: voice-to-voice latency of the real server under concurrent sessions.

The real server runs in-process; N clients talk to /v1/stream at once like microphones (32 ms
PCM16 chunks in real time, silence included). Client latency counts from the moment the last
speech sample of a question was sent to the first reply audio byte received, so it includes the
server's turn-end silence (~500 ms) by design; the server's own `to_first_audio` is shown beside.
"""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from websockets.asyncio.client import connect

from omnitalk.assistant import Assistant
from omnitalk.audio.pcm import float_to_pcm16
from omnitalk.bench.questions import QUESTIONS
from omnitalk.bench.report import print_json, print_report
from omnitalk.engines.scheduler import CPU
from omnitalk.engines.speak import speak
from omnitalk.server.app import ServerConfig
from omnitalk.server.background import free_port, serve_in_background, wait_until

RATE, CHUNK_S, LEAD_IN_S, TURN_TIMEOUT_S = 16000, 0.032, 0.5, 60.0
CHUNK = int(RATE * CHUNK_S) * 2  # bytes of PCM16 per 32 ms chunk
SILENCE = bytes(CHUNK)


def wait_until_idle(base: str) -> None:
    """Until /readyz says ready with no open session (the last run's sockets are closed)."""
    wait_until(base, lambda r: r.status_code == 200 and r.json()["sessions"] == 0, timeout_s=60)


def question_pcm(assistant: Assistant, text: str) -> bytes:
    """The spoken question as PCM16 at 16 kHz, trimmed to its first and last speech sample."""
    audio = speak(assistant.voice, text, RATE, lead_in_s=0.0)
    loud = np.flatnonzero(np.abs(audio) > 0.02 * np.abs(audio).max())
    return float_to_pcm16(audio[loud[0]:loud[-1] + 1])


async def client(url: str, questions: list[bytes], results: list[dict], progress) -> None:
    """One microphone: each question after 0.5 s of silence, then silence until the reply ends."""
    turn: dict = {}
    done = asyncio.Event()

    async def receive(ws) -> None:
        async for message in ws:
            if "speech_sent" not in turn or done.is_set():
                continue  # only what follows the end of this question belongs to its reply
            if isinstance(message, bytes):
                turn.setdefault("first_audio", time.perf_counter())
                continue
            event = json.loads(message)
            if event["type"] in ("reply_done", "reply_cancelled", "error"):
                turn["ok"] = event["type"] == "reply_done"
                if not turn["ok"]:
                    turn["error"] = f"{event['type']}: {event.get('reason') or event.get('code')}"
                turn["timings"] = event.get("timings") or {}
                done.set()

    finished, receiving = 0, None
    try:
        async with connect(f"{url.replace('http', 'ws', 1)}/v1/stream?input_rate={RATE}",
                           max_size=None, compression=None, ping_interval=None,
                           open_timeout=30) as ws:
            ready = json.loads(await ws.recv())
            if ready["type"] != "ready":
                raise ConnectionError(ready.get("message", ready["type"]))
            receiving = asyncio.create_task(receive(ws))
            clock, chunks = time.perf_counter(), 0

            async def send(chunk: bytes) -> None:
                nonlocal chunks
                chunks += 1  # paced on an absolute schedule: a late chunk is sent at once
                await asyncio.sleep(max(0.0, clock + chunks * CHUNK_S - time.perf_counter()))
                if receiving.done():  # the connection is gone: say why
                    receiving.result()
                    raise ConnectionError("the server closed the connection")
                await ws.send(chunk)

            for pcm in questions:
                turn.clear()
                done.clear()
                audio = bytes(int(LEAD_IN_S * RATE) * 2) + pcm
                for start in range(0, len(audio), CHUNK):
                    await send(audio[start:start + CHUNK].ljust(CHUNK, b"\0"))
                turn["speech_sent"] = time.perf_counter()
                deadline = turn["speech_sent"] + TURN_TIMEOUT_S
                while not done.is_set() and time.perf_counter() < deadline:
                    await send(SILENCE)
                ok = turn.get("ok", False) and "first_audio" in turn
                error = turn.get("error") or ("turn timed out" if not done.is_set() else
                                              None if ok else "reply_done without audio")
                results.append({"ok": ok, "timings": turn.get("timings", {}), "error": error,
                                "client_ms": (turn["first_audio"] - turn["speech_sent"]) * 1000
                                if ok else None})
                finished += 1
                progress()
    except Exception as error:  # the remaining turns of this client count as failed
        for _ in range(len(questions) - finished):
            results.append({"ok": False, "error": f"{type(error).__name__}: {error}"})
            progress()
    finally:
        if receiving is not None:
            receiving.cancel()
            await asyncio.gather(receiving, return_exceptions=True)


async def run_sessions(url: str, per_client: list[list[bytes]], progress) -> list[dict]:
    results: list[dict] = []
    await asyncio.gather(*(client(url, questions, results, progress) for questions in per_client))
    return results


def run(assistant: Assistant, sessions: list[int], rounds: int = 2,
        json_line: bool = False) -> dict[int, list[dict]]:
    spoken = [question_pcm(assistant, q) for q in QUESTIONS]
    outcomes: dict[int, list[dict]] = {}
    busy: dict[int, dict[str, float]] = {}  # seconds of compute by kind of step, per count
    wall: dict[int, float] = {}
    config = ServerConfig(port=free_port(), max_sessions=max(sessions))
    progress = Progress(transient=True, console=Console(stderr=True))  # stdout: the table only
    with serve_in_background(config, lambda: assistant) as url, progress as bar:
        task = bar.add_task("turns", total=sum(sessions) * rounds)
        for count in sessions:
            bar.update(task, description=f"{count} session(s) talking")
            wait_until_idle(url)  # the previous round's sessions have all closed
            per_client = [[spoken[(c * rounds + r) % len(spoken)] for r in range(rounds)]
                          for c in range(count)]
            before, started = CPU.busy_seconds(), time.perf_counter()
            outcomes[count] = asyncio.run(run_sessions(
                url, per_client, lambda: bar.advance(task)))
            after = CPU.busy_seconds()
            busy[count] = {kind: after[kind] - before.get(kind, 0.0) for kind in after}
            wall[count] = time.perf_counter() - started
    table = Table(title="omnitalk serve: concurrent /v1/stream sessions, real time, 16 kHz; "
                  "client ms = last speech sample sent -> first reply audio (includes ~500 ms "
                  "turn-end silence)")
    # The server's own milestones, from the end of speech: where the time goes.
    stages = {"final transcript": "end_of_speech_to_final_transcript",
              "first LLM token": "to_first_llm_token", "first audio": "to_first_audio"}
    for name in ("sessions", "turns ok", "client median ms", "client p90 ms", "client max ms",
                 *(f"server {stage} median ms" for stage in stages)):
        table.add_column(name, justify="right")
    figures = ("client_ms_median", "client_ms_p90", "client_ms_max",
               *(f"server_{key}_ms_median" for key in stages.values()))
    rows = []
    for count, results in outcomes.items():
        client_ms = [r["client_ms"] for r in results if r["ok"]]
        row = {"sessions": count, "turns_ok": len(client_ms), "turns": len(results)}
        if client_ms:
            row |= {"client_ms_median": float(np.median(client_ms)),
                    "client_ms_p90": float(np.percentile(client_ms, 90)),
                    "client_ms_max": float(np.max(client_ms))}
        for key in stages.values():
            values = [r["timings"][key] for r in results
                      if r["ok"] and r["timings"].get(key) is not None]
            if values:
                row[f"server_{key}_ms_median"] = float(np.median(values))
        table.add_row(str(count), f"{len(client_ms)}/{len(results)}",
                      *(f"{row[name]:.0f}" if name in row else "-" for name in figures))
        rows.append(row)
    errors = sorted({r["error"] for rs in outcomes.values() for r in rs if r.get("error")})
    if errors:
        table.caption = "errors: " + "; ".join(errors)
    Console(width=max(120, Console().width)).print(table)
    # Where the CPU went: compute per turn, by kind of step (engines/scheduler.py).
    kinds = sorted({kind for figures in busy.values() for kind in figures})
    compute = Table(title="compute per turn, ms, by kind of step (steps run one at a time, "
                    "earliest deadline first)")
    for name in ("sessions", *kinds, "total", "share of wall time"):
        compute.add_column(name, justify="right")
    for row in rows:
        count, turns = row["sessions"], max(1, row["turns"])
        figures = busy[count]
        row["compute_share"] = sum(figures.values()) / wall[count]
        row["compute_ms_per_turn"] = {kind: 1000 * figures.get(kind, 0.0) / turns
                                      for kind in kinds}
        compute.add_row(str(count), *(f"{row['compute_ms_per_turn'][k]:.0f}" for k in kinds),
                        f"{sum(row['compute_ms_per_turn'].values()):.0f}",
                        f"{row['compute_share']:.0%}")
    print_report(compute)
    if json_line:
        print_json("serve", {"rounds": rounds, "by_sessions": rows, "errors": errors})
    return outcomes
