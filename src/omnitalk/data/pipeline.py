"""`omnitalk data build`: run the stages over every item, resumably, then export.

Each stage is a function `Item -> Item` (or `Drop`); its verdict on each item is written to
`<out_dir>/stages/<stage>/<item>.json` atomically, after anything the stage wrote for the item
(audio, tokens). A result file is the only mark of "done": a killed build restarts where it
stopped, redoing only the items whose result was not written. An item that fails with an error
(a dead LLM endpoint, a bug) gets no result file: it is counted as failed and tried again by
the next run. Model stages run in worker processes, the cheap text stages in this one.

On more machines, the same stage functions can be mapped by an existing engine (docs/data.md).
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import random
import time
import traceback
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from omnitalk.data import duplex_sim, filters
from omnitalk.data.config import DataConfig
from omnitalk.data.files import write_json
from omnitalk.data.items import Drop, Item
from omnitalk.data.rewrite import rewrite_llm, rewrite_rules
from omnitalk.data.sources import load_items
from omnitalk.data.synthesise import synthesise
from omnitalk.data.tokenise import tokenise
from omnitalk.data.verify import verify
from omnitalk.data.workshop import Workshop
from omnitalk.text.speech import normalise_for_speech, strip_markdown


def normalise(item: Item, language: str) -> Item:
    """Spoken style: markdown gone; numbers, dates, money, units and symbols as words (en)."""
    say = normalise_for_speech if language == "en" else strip_markdown
    return item.with_turns(dataclasses.replace(t, spoken=say(t.spoken)) for t in item.turns)


def _rewrite(item: Item, shop: Workshop) -> Item:
    max_words = shop.config.rewrite.max_words
    if shop.config.rewrite.backend == "llm":
        return rewrite_llm(item, shop.llm, max_words)
    return rewrite_rules(item, max_words)


@dataclass(frozen=True)
class Stage:
    name: str
    # Item -> Item (or Drop); the side-output stages (duplex) return a record dict instead.
    run: Callable[[Item, Workshop], Item | dict]
    uses_models: bool  # run in the worker processes


def stages(config: DataConfig) -> list[Stage]:
    """The item stages, in order."""
    filter_config, language = config.filter, config.language
    return [
        Stage("screen", lambda item, shop: filters.screen(item, filter_config), False),
        Stage("rewrite", _rewrite, config.rewrite.backend == "llm"),
        Stage("normalise", lambda item, shop: normalise(item, language), False),
        Stage("check", lambda item, shop: filters.check(
            item, filter_config, config.rewrite.max_words, language, shop.safety), False),
        Stage("synthesise", synthesise, True),
        Stage("verify", verify, True),
        Stage("tokenise", tokenise, True),
    ]


DUPLEX_STAGES = (Stage("dialogues", duplex_sim.dialogue, True),
                 Stage("interruptions", duplex_sim.interruption, True))


def _stage_named(config: DataConfig, name: str) -> Stage:
    return next(s for s in (*stages(config), *DUPLEX_STAGES) if s.name == name)


def run_stage(stage: Stage, item: Item, shop: Workshop) -> dict:
    """A stage's verdict as the JSON its result file holds ("failed" is never written)."""
    try:
        result = stage.run(item, shop)
        return {"item": result.to_dict()} if isinstance(result, Item) else {"record": result}
    except Drop as drop:
        return {"dropped": drop.reason, "detail": drop.detail}
    except Exception as error:  # one bad item must not stop a long build
        return {"failed": f"{type(error).__name__}: {error}",
                "trace": traceback.format_exc(limit=3)}


# Worker processes: each builds its own workshop once (models are per process).
_worker_shop: Workshop | None = None


def _start_worker(config: DataConfig, root: Path) -> None:
    global _worker_shop
    import torch

    torch.set_num_threads(1)
    _worker_shop = Workshop(config, root)


def _work(stage_name: str, item: dict) -> dict:
    assert _worker_shop is not None
    return run_stage(_stage_named(_worker_shop.config, stage_name), Item.from_dict(item),
                     _worker_shop)


@dataclass
class StageReport:
    name: str
    received: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    failed: int = 0
    notes: Counter = field(default_factory=Counter)
    reused: int = 0  # results found from an earlier run
    seconds: float = 0.0  # wall time of this run's work on the stage


@dataclass
class BuildReport:
    left_out: Counter  # source records that did not fit
    stages: list[StageReport]
    items: list[Item]  # what came out of the last item stage, in source order
    drops: dict[str, dict]  # item id -> {"stage", "reason", "detail"}
    records: dict[str, list[dict]]  # side-output stage -> its records (duplex)


def duplex_jobs(items: list[Item], config: DataConfig) -> dict[str, list[Item]]:
    """Which items the dialogue and interruption stages work on (seeded choices).

    Dialogues prefer conversations with more exchanges. Interruption samples cycle through
    the items, each copy with its own id (so its own draws and its own result file).
    """
    rng = random.Random(f"{config.seed}:duplex")
    order = list(items)
    rng.shuffle(order)
    dialogues = sorted(order, key=lambda item: -len(item.turns))[:config.duplex.dialogues]
    interruptions = [duplex_sim.interruption_job(order[k % len(order)], k)
                     for k in range(config.duplex.interruptions if order else 0)]
    return {"dialogues": dialogues, "interruptions": interruptions}


class Build:
    def __init__(self, config: DataConfig, on_progress=None) -> None:
        self.config = config
        self.root = Path(config.out_dir)
        # (stage name, done, total) after each item; the CLI draws progress bars with it.
        self.on_progress = on_progress or (lambda name, done, total: None)

    def _result_path(self, stage: str, item: Item) -> Path:
        return self.root / "stages" / stage / f"{item.key}.json"

    def _verdicts(self, stage: Stage, items: list[Item], shop: Workshop,
                  pool: ProcessPoolExecutor | None, report: StageReport) -> dict[str, dict]:
        """Every item's verdict: read from an earlier run's result, or computed now."""
        verdicts: dict[str, dict] = {}
        todo = []
        for item in items:
            path = self._result_path(stage.name, item)
            if path.is_file():
                verdicts[item.id] = json.loads(path.read_text(encoding="utf-8"))
                report.reused += 1
            else:
                todo.append(item)
        self.on_progress(stage.name, len(verdicts), len(items))
        if pool is None or not stage.uses_models:
            results = ((item, run_stage(stage, item, shop)) for item in todo)
        else:
            futures = {pool.submit(_work, stage.name, item.to_dict()): item for item in todo}
            results = ((futures[f], f.result()) for f in as_completed(futures))
        for item, verdict in results:
            if "failed" not in verdict:
                write_json(self._result_path(stage.name, item), verdict)
            verdicts[item.id] = verdict
            self.on_progress(stage.name, len(verdicts), len(items))
        return verdicts

    def run(self) -> BuildReport:
        self.root.mkdir(parents=True, exist_ok=True)
        items, left_out = load_items(self.config.source, self.config.name)
        shop = Workshop(self.config, self.root)
        reports, drops, records = [], {}, {}
        pool = None
        if self.config.workers > 1:
            pool = ProcessPoolExecutor(
                max_workers=self.config.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker, initargs=(self.config, self.root))
        try:
            for stage in stages(self.config):
                report = StageReport(stage.name, received=len(items))
                start = time.perf_counter()
                verdicts = self._verdicts(stage, items, shop, pool, report)
                report.seconds = time.perf_counter() - start
                kept = []
                for item in items:
                    verdict = verdicts[item.id]
                    if "item" in verdict:
                        kept.append(Item.from_dict(verdict["item"]))
                        report.notes.update(kept[-1].notes[len(item.notes):])
                    else:
                        reason = verdict.get("dropped", "failed")
                        if "dropped" in verdict:
                            report.dropped[reason] += 1
                        else:
                            report.failed += 1
                        detail = verdict.get("detail") or verdict.get("failed", "")
                        drops[item.id] = {"stage": stage.name, "reason": reason,
                                          "detail": detail}
                report.kept = len(kept)
                reports.append(report)
                items = kept
            for stage in DUPLEX_STAGES:
                jobs = duplex_jobs(items, self.config)[stage.name]
                report = StageReport(stage.name, received=len(jobs))
                start = time.perf_counter()
                verdicts = self._verdicts(stage, jobs, shop, pool, report)
                report.seconds = time.perf_counter() - start
                records[stage.name] = [verdicts[j.id]["record"] for j in jobs
                                       if "record" in verdicts[j.id]]
                report.kept = len(records[stage.name])
                report.failed = len(jobs) - report.kept
                reports.append(report)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        return BuildReport(left_out, reports, items, drops, records)
