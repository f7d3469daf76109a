"""`omnitalk bench data`: how fast the dataset factory makes and checks speech here.

Times the two stages that cost (Piper synthesis, Whisper verification) on conversations of the
built-in sample, in one process with its models loaded beforehand. Real-time factor is wall
time over the seconds of speech handled. Then a whole build of the same conversations (no
duplex samples) with worker processes, model loading included: its model stages one by one,
and conversations per minute end to end.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.table import Table

from omnitalk.bench.report import print_json, print_report
from omnitalk.data import filters
from omnitalk.data.config import DataConfig
from omnitalk.data.items import Drop
from omnitalk.data.pipeline import Build, normalise
from omnitalk.data.rewrite import rewrite_rules
from omnitalk.data.sources import load_items
from omnitalk.data.synthesise import synthesise
from omnitalk.data.verify import verify
from omnitalk.data.workshop import Workshop


def _spoken_items(config: DataConfig, count: int):
    items, _ = load_items(config.source, config.name)
    ready = []
    for item in items:
        try:
            item = filters.screen(item, config.filter)
            item = normalise(rewrite_rules(item, config.rewrite.max_words), config.language)
            ready.append(filters.check(item, config.filter, config.rewrite.max_words))
        except Drop:
            continue
        if len(ready) == count:
            break
    return ready


def run(items: int = 24, workers: int = 2, json_line: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="omnitalk-bench-data-") as folder:
        config = DataConfig(out_dir=str(Path(folder) / "one"), workers=1)
        shop = Workshop(config, Path(config.out_dir))
        shop.voice("")
        shop.asr.transcribe(np.zeros(16000, np.float32))  # load and warm the models first
        ready = _spoken_items(config, items)
        start = time.perf_counter()
        spoken = [synthesise(item, shop) for item in ready]
        synthesis_s = time.perf_counter() - start
        seconds = sum(t.seconds for item in spoken for t in item.turns)
        start = time.perf_counter()
        kept = 0
        for item in spoken:
            try:
                verify(item, shop)
                kept += 1
            except Drop:
                pass
        verify_s = time.perf_counter() - start

        whole = dataclasses.replace(config, out_dir=str(Path(folder) / "whole"), workers=workers)
        whole.source = dataclasses.replace(config.source, limit=items)
        whole.duplex = dataclasses.replace(config.duplex, dialogues=0, interruptions=0)
        start = time.perf_counter()
        report = Build(whole).run()
        build_s = time.perf_counter() - start

    table = Table(title=f"Dataset factory on {len(ready)} sample conversations "
                  f"({seconds:.0f} s of speech)")
    for name in ("what", "wall s", "real-time factor", "conversations per minute"):
        table.add_column(name, justify="left" if name == "what" else "right")
    per_minute = len(ready) * 60
    table.add_row("synthesis (Piper, 1 process)", f"{synthesis_s:.1f}",
                  f"{synthesis_s / seconds:.3f}", f"{per_minute / synthesis_s:.0f}")
    table.add_row(f"verification (Whisper tiny.en, 1 process; {kept} kept)", f"{verify_s:.1f}",
                  f"{verify_s / seconds:.3f}", f"{per_minute / verify_s:.0f}")
    table.add_row("synthesis + verification", f"{synthesis_s + verify_s:.1f}",
                  f"{(synthesis_s + verify_s) / seconds:.3f}",
                  f"{per_minute / (synthesis_s + verify_s):.0f}")
    build_stages = {}
    for stage in report.stages:
        if stage.name in ("synthesise", "verify", "tokenise"):
            table.add_row(f"  whole build: {stage.name} ({stage.received} in)",
                          f"{stage.seconds:.1f}", "", f"{stage.received * 60 / stage.seconds:.0f}")
            build_stages[stage.name] = {
                "items_in": stage.received, "wall_s": stage.seconds,
                "conversations_per_minute": stage.received * 60 / stage.seconds}
    table.add_row(f"whole build, {workers} workers, each loading its models "
                  f"({len(report.items)} of {items} kept)", f"{build_s:.1f}", "",
                  f"{items * 60 / build_s:.0f}")
    print_report(table)
    if json_line:
        print_json("data", {
            "conversations": len(ready), "speech_s": seconds,
            "synthesis_wall_s": synthesis_s, "synthesis_rtf": synthesis_s / seconds,
            "synthesis_conversations_per_minute": per_minute / synthesis_s,
            "verification_wall_s": verify_s, "verification_rtf": verify_s / seconds,
            "verification_kept": kept,
            "verification_conversations_per_minute": per_minute / verify_s,
            "build_workers": workers, "build_wall_s": build_s, "build_kept": len(report.items),
            "build_conversations_per_minute": items * 60 / build_s, "build_stages": build_stages})
