"""`omnitalk bench llm`: load time, time to first token and generation speed per local backend.

This is the measurement behind the default backend choice (llama-cpp).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from rich.markup import escape
from rich.table import Table

from omnitalk.agent.responders.cascade import DEFAULT_SYSTEM_PROMPT
from omnitalk.assistant import AssistantConfig
from omnitalk.bench.questions import QUESTIONS
from omnitalk.bench.report import print_json, print_report
from omnitalk.engines import registry
from omnitalk.engines.base import ChatMessage, EngineError


def run(config: AssistantConfig, repeats: int = 3, json_line: bool = False) -> None:
    table = Table(title="Local LLM backends on the default model")
    for name in ("backend", "load s", "first token ms (median)", "tokens/s (median)", "note"):
        table.add_column(name)
    system = ChatMessage("system", config.cascade.system_prompt or DEFAULT_SYSTEM_PROMPT)
    backends: dict[str, dict] = {}
    for backend in ("llama-cpp", "transformers"):
        llm_config = dataclasses.replace(config.llm, backend=backend, temperature=0.0)
        start = time.perf_counter()
        try:
            llm = registry.create("llm", llm_config)
        except EngineError as error:
            table.add_row(backend, "-", "-", "-", escape(str(error)))
            backends[backend] = {"error": str(error)}
            continue
        load = time.perf_counter() - start
        llm.warm_up([system, ChatMessage("user", "Hello.")])
        first, speed = [], []
        for _ in range(repeats):
            for question in QUESTIONS:
                start = time.perf_counter()
                stamps = [time.perf_counter() for _ in llm.stream_chat(
                    [system, ChatMessage("user", question)])]
                if not stamps:
                    continue
                first.append((stamps[0] - start) * 1000)
                if len(stamps) > 1:
                    speed.append((len(stamps) - 1) / (stamps[-1] - stamps[0]))
        table.add_row(backend, f"{load:.1f}", f"{np.median(first):.0f}",
                      f"{np.median(speed):.1f}", "deltas counted as tokens")
        backends[backend] = {"load_s": load, "first_token_ms_median": float(np.median(first)),
                             "deltas_per_s_median": float(np.median(speed))}
    print_report(table)
    if json_line:
        print_json("llm", {"repeats": repeats, "model": config.llm.model or "packaged",
                           "backends": backends})
