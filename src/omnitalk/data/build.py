"""`omnitalk data build`: run a build with progress bars, export it, print what happened."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from omnitalk.data.card import dataset_card, stage_table
from omnitalk.data.config import DataConfig
from omnitalk.data.export import export_dataset, hours, record_rows
from omnitalk.data.pipeline import Build, BuildReport


def build_dataset(config: DataConfig, console: Console | None = None) -> tuple[Path, BuildReport]:
    console = console or Console(stderr=True, width=max(120, Console(stderr=True).width))
    start = time.perf_counter()
    tasks: dict[str, int] = {}
    columns = (TextColumn("{task.description:>13}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        report = Build(config, on_progress).run()
    root = Path(config.out_dir)
    extra = {name: record_rows(records, root) for name, records in report.records.items()}
    folder = export_dataset(report.items, root, config.export.subsets, config.seed,
                            dataset_card(config, report), extra)
    console.print(stage_table(report))
    minutes = {role: 60 * hours(report.items, role) for role in ("user", "assistant")}
    console.print(
        f"{len(report.items)} conversations ({minutes['user']:.1f} min of user and "
        f"{minutes['assistant']:.1f} min of assistant speech) in {folder}, "
        f"{time.perf_counter() - start:.0f} s; the card is {folder / 'README.md'}")
    failed = sum(stage.failed for stage in report.stages)
    if failed:
        console.print(f"[yellow]{failed} item(s) failed with an error and were left out; run "
                      "the same command again to retry them (finished work is kept)")
    return folder, report
