"""`omnitalk train`: one stage with a progress bar, and a table of what it reached."""

from __future__ import annotations

import os

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from omnitalk.train.config import TrainConfig
from omnitalk.train.trainer import Trainer, TrainReport


def summary(report: TrainReport) -> Table:
    table = Table(title=f"{report.config['name']}: held-out evaluations")
    streams = sorted({k for e in report.evaluations for k in e["losses"]})
    for name in ("step", *streams, "ASR WER"):
        table.add_column(name, justify="right")
    for e in report.evaluations:
        wer = "-" if e["asr_wer"] is None else f"{e['asr_wer']:.1%}"
        table.add_row(str(e["step"]), *(f"{e['losses'].get(s, float('nan')):.3f}"
                                         for s in streams), wer)
    return table


def train_stage(config: TrainConfig, console: Console | None = None) -> TrainReport:
    # Of several processes (`accelerate launch`, `torchrun`) only the first reports.
    quiet = int(os.environ.get("RANK", "0")) != 0
    console = console or Console(stderr=True, width=max(120, Console(stderr=True).width),
                                 quiet=quiet)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[loss]}"))
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(config.name, total=config.steps, loss="loading...")

        def on_step(step, steps, row, evaluation) -> None:
            shown = f"loss {row['loss']:.3f}, lr {row['lr']:.1e}"
            if evaluation is not None and evaluation.asr_wer is not None:
                shown += f", held-out ASR WER {evaluation.asr_wer:.0%}"
            progress.update(task, completed=step, loss=shown)

        report = Trainer(config, on_step).run()
    console.print(summary(report))
    last = report.evaluations[-1] if report.evaluations else None
    for sample in (last or {}).get("samples", [])[:6]:
        said = escape(sample["said"][:200])  # an untrained talker can ramble
        console.print(f"[dim]{sample['task']}[/] {escape(sample['question'])} -> {said!r} "
                      f"[dim](expected {escape(sample['expected'])})")
    console.print(f"{report.train_examples} training examples, "
                  f"{report.trainable_parameters / 1e6:.1f} M trainable parameters, "
                  f"{report.tokens_per_second:.0f} positions/s; talker in {report.final}, "
                  f"loss plot {config.out_dir}/loss.png")
    return report


def train_state_head_with_progress(config, console: Console | None = None) -> TrainReport:
    """`omnitalk train state-head`: examples, then steps, with progress, then a table."""
    from omnitalk.train.state_head import build_examples, chance, class_counts, train_state_head

    console = console or Console(stderr=True)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[loss]}"))
    with Progress(*columns, console=console) as progress:
        making = progress.add_task("making examples", total=None, loss="")
        training = progress.add_task(config.name, total=config.steps, loss="", visible=False)

        def on_progress(message: str) -> None:
            progress.update(making, loss=message)

        def on_step(step, steps, row, evaluation) -> None:
            progress.update(making, visible=False)
            shown = f"loss {row['loss']:.3f}"
            if evaluation is not None:
                shown += f", held-out accuracy {evaluation['accuracy']:.1%}"
            progress.update(training, visible=True, completed=step, loss=shown)

        report = train_state_head(config, on_step, on_progress)
    rows = build_examples(config)
    table = Table(title=f"{config.name}: held-out evaluations "
                        f"(chance: {chance(rows):.1%}, always the commonest label)")
    states = sorted({k for e in report.evaluations for k in e if k.startswith("accuracy_")})
    for name in ("step", "loss", "accuracy", *(s.removeprefix("accuracy_") for s in states)):
        table.add_column(name, justify="right")
    for e in report.evaluations:
        table.add_row(str(e["step"]), f"{e['loss']:.3f}", f"{e['accuracy']:.1%}",
                      *(f"{e.get(s, float('nan')):.1%}" for s in states))
    console.print(table)
    console.print(f"examples per split and label: {class_counts(rows)}")
    console.print(f"{report.trainable_parameters} trainable parameters; head in {report.final}, "
                  f"loss plot {config.out_dir}/loss.png")
    return report
